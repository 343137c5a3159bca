'use strict';
// Stand-in for the npm package `bignum@0.6.2`, used only by the interop harness.
//
// The real package is an OpenSSL-backed native addon whose 2013-era C++ does not
// compile against Node 20.  prozess@0.7.0 (and its dependency buffermaker@1.0.0)
// use a handful of its functions: the constructor, add/sub/eq/lt/gt/cmp,
// toNumber/toString, toBuffer({endian, size}) and BigNum.fromBuffer(buf, opts).
// This file re-implements exactly that surface on top of JavaScript BigInt,
// following the documented behaviour of bignum 0.6.2 (including its quirks),
// so that prozess puts the same bytes on the wire it did with the native module:
//
//  * toBuffer() of a negative number throws
//    Error('converting negative numbers to Buffers not supported yet');
//  * toBuffer({size: s}) produces ceil(hexDigits / (2*s)) * s bytes, i.e. a
//    value that needs more than s bytes yields a LONGER buffer (no truncation);
//    zero yields s bytes;
//  * fromBuffer(buf, {endian, size}) reads `size`-byte words (default size 1,
//    big endian) as one unsigned number; buf.length must be a multiple of size;
//  * BigNum(x) accepts numbers, decimal strings, strings in a given base and
//    other BigNums; numbers are floored.

function toBig(value, base) {
  if (value instanceof BigNum) return value._v;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('bignum stand-in: not a finite number');
    return BigInt(Math.floor(value));
  }
  if (typeof value === 'string') {
    var b = base || 10;
    var s = value.trim();
    var neg = false;
    if (s[0] === '-') { neg = true; s = s.slice(1); }
    if (s === '') throw new TypeError('bignum stand-in: empty string');
    var acc = 0n;
    var bb = BigInt(b);
    for (var i = 0; i < s.length; i++) {
      var d = parseInt(s[i], b);
      if (Number.isNaN(d)) throw new TypeError('bignum stand-in: bad digit ' + s[i]);
      acc = acc * bb + BigInt(d);
    }
    return neg ? -acc : acc;
  }
  if (value && typeof value.toString === 'function') return toBig(value.toString(), base);
  throw new TypeError('bignum stand-in: unsupported value ' + value);
}

function BigNum(value, base) {
  if (!(this instanceof BigNum)) return new BigNum(value, base);
  this._v = toBig(value === undefined ? 0 : value, base);
}

BigNum.prototype.toString = function (base) {
  return this._v.toString(base || 10);
};
BigNum.prototype.inspect = function () { return '<BigNum ' + this.toString(10) + '>'; };
BigNum.prototype.toNumber = function () { return Number(this._v); };
BigNum.prototype.valueOf = function () { return Number(this._v); };
BigNum.prototype.toJSON = function () { return this.toString(10); };

BigNum.prototype.add = function (n) { return new BigNum(this._v + toBig(n)); };
BigNum.prototype.sub = function (n) { return new BigNum(this._v - toBig(n)); };
BigNum.prototype.mul = function (n) { return new BigNum(this._v * toBig(n)); };
BigNum.prototype.div = function (n) { return new BigNum(this._v / toBig(n)); };
BigNum.prototype.abs = function () { return new BigNum(this._v < 0n ? -this._v : this._v); };
BigNum.prototype.neg = function () { return new BigNum(-this._v); };
BigNum.prototype.cmp = function (n) {
  var o = toBig(n);
  return this._v < o ? -1 : (this._v > o ? 1 : 0);
};
BigNum.prototype.eq = function (n) { return this.cmp(n) === 0; };
BigNum.prototype.lt = function (n) { return this.cmp(n) < 0; };
BigNum.prototype.le = function (n) { return this.cmp(n) <= 0; };
BigNum.prototype.gt = function (n) { return this.cmp(n) > 0; };
BigNum.prototype.ge = function (n) { return this.cmp(n) >= 0; };

function endianOf(opts) {
  var e = opts.endian;
  if (e === 1) return 'big';
  if (e === -1 || e === '-1') return 'little';
  return e || 'big';
}

BigNum.prototype.toBuffer = function (opts) {
  opts = opts || {};
  if (typeof opts === 'string') throw new Error('bignum stand-in: mpint not implemented');
  if (this._v < 0n) throw new Error('converting negative numbers to Buffers not supported yet');
  var hex = this._v.toString(16);
  var size = opts.size === 'auto' ? Math.ceil(hex.length / 2) : (opts.size || 1);
  var len = Math.ceil(hex.length / (2 * size)) * size;
  while (hex.length < 2 * len) hex = '0' + hex;
  var big = endianOf(opts) === 'big';
  var buf = Buffer.alloc(len);
  for (var w = 0; w < len / size; w++) {
    for (var j = 0; j < size; j++) {
      var src = (w * size + j) * 2;
      var ix = w * size + (big ? j : size - j - 1);
      buf[ix] = parseInt(hex.slice(src, src + 2), 16);
    }
  }
  return buf;
};

BigNum.fromBuffer = function (buf, opts) {
  opts = opts || {};
  var size = opts.size === 'auto' ? buf.length : (opts.size || 1);
  if (buf.length % size !== 0) {
    throw new RangeError('Buffer length (' + buf.length + ') must be a multiple of size (' + size + ')');
  }
  var big = endianOf(opts) === 'big';
  var acc = 0n;
  for (var i = 0; i < buf.length; i += size) {
    for (var j = 0; j < size; j++) {
      acc = (acc << 8n) | BigInt(buf[i + (big ? j : size - j - 1)]);
    }
  }
  return new BigNum(acc);
};

BigNum.isBigNum = function (x) { return x instanceof BigNum; };

module.exports = BigNum;
