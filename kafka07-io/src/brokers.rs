//! Broker lists with failover, and exponential backoff.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::connection::{Connection, ConnectionConfig};
use crate::error::{Error, Result};

/// Exponential backoff: `initial`, then ×`multiplier` after each failure, capped at `max`.
///
/// ```
/// use std::time::Duration;
/// use kafka07_io::Backoff;
/// let b = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
/// let delays: Vec<_> = (0..5).map(|i| b.delay(i)).collect();
/// assert_eq!(delays, [10, 20, 40, 50, 50].map(Duration::from_millis));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The largest delay.
    pub max: Duration,
    /// Growth factor per failure (2 by default).
    pub multiplier: u32,
}

impl Default for Backoff {
    /// 10 ms doubling up to 1 s (the reference consumer's `fetcher.backoff.ms`).
    fn default() -> Self {
        Backoff::new(Duration::from_millis(10), Duration::from_secs(1))
    }
}

impl Backoff {
    /// A doubling backoff from `initial` to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            multiplier: 2,
        }
    }

    /// The delay after `failures` consecutive failures (0 = the first delay).
    pub fn delay(&self, failures: u32) -> Duration {
        let mut d = self.initial;
        for _ in 0..failures {
            d = d.saturating_mul(self.multiplier.max(1));
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }
}

/// Where to connect: an ordered list of brokers with failover and reconnect backoff.
///
/// A connection goes to the current broker; when it cannot be reached the next one is tried;
/// after every broker failed once, the list waits ([`Backoff`], growing per round) and tries
/// again, up to `max_rounds` rounds or `connect_deadline`, whichever ends first. The broker
/// that answered stays current until it fails.
///
/// 0.7 partitions are broker-local (no replication): after a failover, a partition of the
/// same number on another broker holds other data. A producer sending to partition -1
/// (random, the reference's static `broker.list` mode) is unaffected; a consumer's position
/// is usually out of range on the new broker and its reset policy applies.
///
/// ```
/// use std::time::Duration;
/// use kafka07_io::{BrokerList, Error};
/// // Nothing listens on a port we bound and released: the list gives up quickly.
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
/// let mut brokers = BrokerList::new([format!("127.0.0.1:{port}")])
///     .max_rounds(2)
///     .backoff(kafka07_io::Backoff::new(Duration::from_millis(1), Duration::from_millis(2)));
/// let err = brokers.connect().unwrap_err();
/// assert!(matches!(err, Error::NoBrokerAvailable { attempts: 2, .. }), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct BrokerList {
    addrs: Vec<String>,
    current: usize,
    backoff: Backoff,
    max_rounds: u32,
    connect_deadline: Duration,
    config: ConnectionConfig,
    failovers: u64,
}

impl BrokerList {
    /// A list of `host:port` addresses, tried in order.
    pub fn new<I, S>(addrs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        BrokerList {
            addrs: addrs.into_iter().map(|a| a.to_string()).collect(),
            current: 0,
            backoff: Backoff::new(Duration::from_millis(50), Duration::from_secs(5)),
            max_rounds: 5,
            connect_deadline: Duration::from_secs(30),
            config: ConnectionConfig::default(),
            failovers: 0,
        }
    }

    /// A list of one broker.
    pub fn single(addr: SocketAddr) -> Self {
        Self::new([addr])
    }

    /// Sets the backoff between rounds.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how many rounds over the whole list are tried (at least 1).
    #[must_use]
    pub fn max_rounds(mut self, rounds: u32) -> Self {
        self.max_rounds = rounds.max(1);
        self
    }

    /// Sets the overall time limit of one [`connect`](Self::connect).
    #[must_use]
    pub fn connect_deadline(mut self, d: Duration) -> Self {
        self.connect_deadline = d;
        self
    }

    /// Sets the socket settings of the connections made.
    #[must_use]
    pub fn connection_config(mut self, config: ConnectionConfig) -> Self {
        self.config = config;
        self
    }

    /// The socket settings in force.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// The addresses.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The broker connections go to now.
    pub fn current(&self) -> Option<&str> {
        self.addrs.get(self.current).map(String::as_str)
    }

    /// How many times the current broker changed because one failed.
    pub fn failovers(&self) -> u64 {
        self.failovers
    }

    /// Marks the current broker as failed: the next connection tries the next one.
    pub fn advance(&mut self) {
        if !self.addrs.is_empty() {
            self.current = (self.current + 1) % self.addrs.len();
            self.failovers += 1;
        }
    }

    /// Connects to the first reachable broker, starting at the current one, with failover and
    /// backoff as described on the type.
    pub fn connect(&mut self) -> Result<Connection> {
        if self.addrs.is_empty() {
            return Err(Error::Config("the broker list is empty".into()));
        }
        let start = Instant::now();
        let mut attempts = 0u32;
        let mut last = None;
        for round in 0..self.max_rounds {
            for _ in 0..self.addrs.len() {
                attempts += 1;
                match Connection::connect(self.addrs[self.current].as_str(), &self.config) {
                    Ok(c) => return Ok(c),
                    Err(e) => {
                        last = Some(e);
                        self.advance();
                    }
                }
                if start.elapsed() >= self.connect_deadline {
                    break;
                }
            }
            let left = self.connect_deadline.saturating_sub(start.elapsed());
            if round + 1 == self.max_rounds || left.is_zero() {
                break;
            }
            std::thread::sleep(self.backoff.delay(round).min(left));
        }
        Err(Error::NoBrokerAvailable {
            attempts,
            last: Box::new(last.unwrap_or(Error::Config("no attempt was made".into()))),
        })
    }
}

impl From<SocketAddr> for BrokerList {
    fn from(addr: SocketAddr) -> Self {
        BrokerList::single(addr)
    }
}
