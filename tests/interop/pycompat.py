"""Load the Python-2-only Kafka 0.7 peers (samsa, brod, pykafka) on Python 3.11.

The peers are installed unmodified (``pip install --no-deps``) into the interop
venv.  Nothing in site-packages is edited: this module installs an import hook
that, for the peer packages only,

1. reads the installed ``.py`` source,
2. translates it with lib2to3 (all default fixers, i.e. what ``2to3`` does),
3. applies a short, explicit list of *source patches* (exact-string
   replacements on the translated text; each must match exactly the stated
   number of times or the import fails loudly),
4. executes the result, then applies *runtime patches* (names replaced in
   the module namespace).

Every patch says which Python-2 behaviour it restores.  None of them changes
what a peer puts on the wire or how it parses a response compared with the
same peer on Python 2.7; the point is to observe the peers' own behaviour
(including their bugs), not to fix them.

Python 2's ``str`` is a byte string.  Code that received a literal like
``'test'`` on Python 2 must receive bytes here; :class:`Py2Str` (alias
:func:`B`) is a ``bytes`` subclass that also answers ``.encode()`` the way a
Python 2 ``str`` did, so peer code that calls ``topic.encode('utf-8')`` keeps
working.

Usage::

    import pycompat
    pycompat.install()
    import samsa.client, brod, kafka    # translated on import

``python pycompat.py --check`` imports every peer module the harness uses and
exits non-zero if one fails (setup.sh runs it).
"""

import importlib.abc
import importlib.machinery
import importlib.util
import io
import linecache
import struct
import sys
import warnings
import zlib

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # lib2to3 is deprecated (still present in 3.11)
    from lib2to3 import refactor as _refactor

# Top-level package names that are Python 2 code.  ``kafka`` is the module
# installed by the PyPI distribution ``pykafka==0.1.3``.
PY2_PACKAGES = ("samsa", "brod", "kafka")


# ---------------------------------------------------------------------------
# Python 2 helpers
# ---------------------------------------------------------------------------

class Py2Str(bytes):
    """A Python 2 ``str``: bytes, but ``.encode()``/``.decode()`` behave as on 2.7
    for ASCII content (``'abc'.encode('utf-8')`` returned the same byte string)."""

    def encode(self, encoding="ascii", errors="strict"):
        bytes(self).decode("ascii", errors)  # 2.7 decoded with ASCII first
        return bytes(self)

    def __str__(self):  # pragma: no cover - only for readable logs
        return bytes(self).decode("latin-1")


def B(text):
    """Spell a Python 2 ``str`` literal: ``B('test')`` is what ``'test'`` was on 2.7."""
    if isinstance(text, str):
        text = text.encode("latin-1")
    return Py2Str(text)


def py2_str(obj):
    """``str(obj)`` with Python 2 semantics for the cases the peers rely on.

    * bytes / bytearray / memoryview -> ``bytes`` (2.7: ``str(bytearray)`` gave
      the raw bytes; ``str(buffer)`` likewise);
    * objects whose class defines ``__str__`` returning bytes (samsa's
      ``StructuredBytesIO``) -> those bytes (Python 3's ``str()`` raises
      ``TypeError`` for a non-text ``__str__`` result);
    * text -> its UTF-8 bytes (a 2.7 source literal was already bytes);
    * anything else -> ``str(obj)`` encoded as UTF-8.
    """
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, str):
        return obj.encode("utf-8")
    method = getattr(type(obj), "__str__", None)
    if method is not None and method is not object.__str__:
        value = method(obj)
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return value.encode("utf-8")
    return str(obj).encode("utf-8")


def py2_buffer(obj, offset=0, size=-1):
    """Python 2 ``buffer(obj[, offset[, size]])``: a read-only window, clipped to
    the object's length (never an error for out-of-range bounds)."""
    view = memoryview(obj)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    if size is None or size < 0:
        return view[offset:]
    return view[offset:offset + size]


def signed_crc32(data, value=0):
    """Python 2 ``zlib.crc32`` / ``binascii.crc32``: a *signed* 32-bit result.

    Python 3 returns the unsigned value; the peers pack it with struct format
    ``i`` (signed), which raises ``struct.error`` for CRCs >= 2**31, and they
    compare it with a checksum unpacked as signed ``i``."""
    crc = zlib.crc32(data, value) & 0xFFFFFFFF
    return crc - 0x100000000 if crc >= 0x80000000 else crc


class _SignedCrcModule:
    """Stand-in for a module object whose ``crc32`` the peer calls as ``zlib.crc32``
    or ``binascii.crc32``; everything else is delegated to the real module."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    crc32 = staticmethod(signed_crc32)


class _Py2StructuredPack:
    """Wrapper for samsa ``StructuredBytesIO.pack`` that truncates float
    arguments to int, as ``struct.pack`` did on Python 2.7 (with only a
    DeprecationWarning); Python 3 raises ``struct.error``.  samsa's FETCH retry
    path calls ``fetch(..., size*1.5)``, i.e. packs a float."""

    def __init__(self, original):
        self.original = original

    def __get__(self, instance, owner):
        original = self.original

        def pack(size, *args):
            args = tuple(int(a) if isinstance(a, float) else a for a in args)
            return original(instance, size, *args)

        return pack


# ---------------------------------------------------------------------------
# Patch tables
# ---------------------------------------------------------------------------

# Source patches: module -> list of (old, new, expected_count, reason).
# Applied to the 2to3 output.  Keep this list short.
SOURCE_PATCHES = {
    "brod.base": [
        ("if raw_message_length == '':", "if raw_message_length == b'':", 1,
         "py2 '' literal is bytes; the socket data it is compared with is bytes"),
        ("elif isinstance(messages, str):", "elif isinstance(messages, bytes):", 1,
         "2to3 maps both `unicode` and `str` to `str`; the 2nd branch meant py2 str (= bytes)"),
    ],
    "brod.blocking": [
        ("self._overflow = ''", "self._overflow = b''", 1,
         "py2 '' literal is bytes (it is concatenated with socket data)"),
        ("read_data = ''", "read_data = b''", 1,
         "py2 '' literal is bytes (it is concatenated with socket data)"),
        ("except errno.EAGAIN:", "except ():", 1,
         "py2 ignores a non-class in `except` (never matches); py3 raises TypeError"
         " while matching. `except ():` is the py3 spelling of 'never matches'"),
    ],
    "kafka.io": [
        ("except errno.EAGAIN:", "except ():", 1,
         "py2 ignores a non-class in `except` (never matches); py3 raises TypeError"),
        ("except (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):", "except ():", 1,
         "py2 ignores non-classes in `except` (never matches); py3 raises TypeError"),
    ],
    "samsa.consumer.consumer": [
        ("parts_per_consumer = len(all_partitions) / len(participants)",
         "parts_per_consumer = len(all_partitions) // len(participants)", 1,
         "py2 `/` on ints is floor division (the balanced consumer's range assignment)"),
    ],
    "kafka.producer": [
        ("payload = ''.join(messages)", "payload = b''.join(messages)", 1,
         "py2 '' literal is bytes (it joins encoded messages)"),
    ],
}


def _patch_samsa_client(mod):
    """crc32 -> signed (packed with struct 'i', compared with a signed 'i' field);
    buffer -> py2 builtin (slices responses); str -> py2 str (sendall(str(request))
    must give the request bytes); Message.__str__ -> payload as latin-1 text so
    '%s' % message (used in samsa's own error messages) works as on 2.7."""
    mod.crc32 = signed_crc32
    mod.buffer = py2_buffer
    mod.str = py2_str
    mod.Message.__str__ = lambda self: bytes(self.payload).decode("latin-1")


def _patch_samsa_structuredio(mod):
    """str -> py2 str (str(topic), str(StructuredBytesIO) give bytes); pack() truncates
    float arguments like struct.pack did on 2.7 (samsa retries FETCH with size*1.5)."""
    mod.str = py2_str                 # str(topic) / str(StructuredBytesIO) must give bytes
    cls = mod.StructuredBytesIO
    cls.pack = _Py2StructuredPack(cls.__dict__["pack"])  # struct.pack(float) truncated on 2.7


def _patch_samsa_socket(mod):
    """buffer -> py2 builtin (recv_struct unpacks from buffer(bytearray))."""
    mod.buffer = py2_buffer           # py2 builtin


def _patch_brod_base(mod):
    """StringIO -> io.BytesIO (cStringIO held byte strings; 2to3 turns it into the
    text-only io.StringIO); compute_checksum -> signed CRC (binascii.crc32 was
    signed on 2.7 and brod packs it with struct 'i')."""
    mod.StringIO = io.BytesIO         # cStringIO held byte strings; 2to3 made it io.StringIO
    mod.BaseKafka.compute_checksum = staticmethod(signed_crc32)  # binascii.crc32 was signed


def _patch_kafka_message(mod):
    """str -> py2 str (Message() stores str(payload), must stay bytes); zlib.crc32 ->
    signed (2.7 semantics; packed with struct 'i', compared with a signed field)."""
    mod.str = py2_str                 # Message(payload) does str(payload)
    mod.zlib = _SignedCrcModule(zlib)  # zlib.crc32 was signed; packed with struct 'i'


def _patch_kafka_io(mod):
    """str -> py2 str (IO.read returns str(bytearray), i.e. the raw bytes on 2.7)."""
    mod.str = py2_str                 # read() returns str(bytearray) -> bytes


def _patch_samsa_partitions(mod):
    """collections.Sequence -> collections.abc.Sequence (the 2.7 alias, removed in 3.10;
    Partition.publish checks isinstance(data, collections.Sequence))."""
    import collections.abc
    mod.collections = type("collections", (), {"Sequence": collections.abc.Sequence})


RUNTIME_PATCHES = {
    "samsa.client": _patch_samsa_client,
    "samsa.partitions": _patch_samsa_partitions,
    "samsa.utils.structuredio": _patch_samsa_structuredio,
    "samsa.utils.socket": _patch_samsa_socket,
    "brod.base": _patch_brod_base,
    "kafka.message": _patch_kafka_message,
    "kafka.io": _patch_kafka_io,
}


def describe_patches():
    """A list of {module, kind, what, why} dicts (used by the encoders' metadata)."""
    out = []
    for module, patches in SOURCE_PATCHES.items():
        for old, new, _count, why in patches:
            out.append({"module": module, "kind": "source",
                        "what": "%s -> %s" % (old, new), "why": why})
    for module, func in RUNTIME_PATCHES.items():
        out.append({"module": module, "kind": "runtime", "what": func.__name__,
                    "why": " ".join((func.__doc__ or "see pycompat.py").split())})
    return out


# ---------------------------------------------------------------------------
# Translation + import hook
# ---------------------------------------------------------------------------

_TOOL = None


def _tool():
    global _TOOL
    if _TOOL is None:
        fixers = _refactor.get_fixers_from_package("lib2to3.fixes")
        _TOOL = _refactor.RefactoringTool(fixers)
    return _TOOL


def translate(source, fullname):
    """2to3-translate ``source`` and apply the module's source patches."""
    if not source.endswith("\n"):
        source += "\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = _tool().refactor_string(source, fullname)
    text = str(tree)
    for old, new, expected, why in SOURCE_PATCHES.get(fullname, ()):
        found = text.count(old)
        if found != expected:
            raise ImportError(
                "pycompat: source patch for %s no longer applies (%r found %d times,"
                " expected %d; reason for patch: %s)" % (fullname, old, found, expected, why))
        text = text.replace(old, new)
    return text


class _Py2Loader(importlib.abc.Loader):
    def __init__(self, fullname, path, is_package):
        self.fullname = fullname
        self.path = path
        self.is_package = is_package

    def create_module(self, spec):
        return None

    def get_source(self, fullname):
        with open(self.path, "rb") as f:
            raw = f.read()
        return translate(raw.decode("utf-8"), fullname)

    def exec_module(self, module):
        source = self.get_source(self.fullname)
        # Tracebacks should quote the translated lines, not the py2 file on disk.
        linecache.cache[self.path] = (len(source), None, source.splitlines(True), self.path)
        code = compile(source, self.path, "exec")
        exec(code, module.__dict__)
        patch = RUNTIME_PATCHES.get(self.fullname)
        if patch is not None:
            patch(module)


class _Py2Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] not in PY2_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not (spec.origin or "").endswith(".py"):
            return spec
        spec.loader = _Py2Loader(fullname, spec.origin,
                                 spec.submodule_search_locations is not None)
        return spec


_FINDER = _Py2Finder()


def install():
    """Install the import hook (idempotent).  Must run before importing a peer."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return _FINDER


CHECK_MODULES = ("samsa.client", "samsa.exceptions", "samsa.cluster", "samsa.consumer.consumer",
                 "brod", "brod.base",
                 "brod.blocking", "kafka", "kafka.producer", "kafka.consumer",
                 "kafka.message")


def _check():
    install()
    failed = 0
    for name in CHECK_MODULES:
        try:
            importlib.import_module(name)
            print("pycompat: ok      %s" % name)
        except Exception as exc:  # report every failure, not just the first
            failed += 1
            print("pycompat: FAILED  %s: %s: %s" % (name, type(exc).__name__, exc))
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(_check())
    if sys.argv[1:2] == ["--show"] and len(sys.argv) == 3:
        install()
        spec = importlib.util.find_spec(sys.argv[2])
        sys.stdout.write(spec.loader.get_source(sys.argv[2]))
        sys.exit(0)
    print("usage: pycompat.py --check | --show MODULE")
    sys.exit(2)
