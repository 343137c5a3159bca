//! A blocking ZooKeeper session over the async `zookeeper-client` crate.

use std::future::Future;
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use zookeeper_client as zkc;

use crate::error::{Error, Result};

/// How to reach ZooKeeper (the reference's `zk.connect`, `zk.sessiontimeout.ms`,
/// `zk.connectiontimeout.ms`).
///
/// ```
/// use kafka07_io::zk::ZkConfig;
/// use std::time::Duration;
/// let c = ZkConfig::new("zk1:2181,zk2:2181/kafka").session_timeout(Duration::from_secs(4));
/// assert_eq!(c.hosts(), "zk1:2181,zk2:2181");
/// assert_eq!(c.chroot(), Some("/kafka"));
/// assert_eq!(c.session_timeout, Duration::from_secs(4));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkConfig {
    /// `host:port[,host:port...][/chroot]`.
    pub connect: String,
    /// Session timeout asked of the server (default 6 s, the 0.7 default). The server clamps
    /// it to its own `minSessionTimeout..maxSessionTimeout`.
    pub session_timeout: Duration,
    /// Longest wait for a first session (default: the session timeout). Also bounds every
    /// single ZooKeeper operation.
    pub connection_timeout: Duration,
}

impl ZkConfig {
    /// A config for `connect` with the 0.7 default timeouts (6 s).
    pub fn new(connect: impl Into<String>) -> Self {
        ZkConfig {
            connect: connect.into(),
            session_timeout: Duration::from_secs(6),
            connection_timeout: Duration::from_secs(6),
        }
    }

    /// Sets the session timeout (and the connection timeout to the same).
    #[must_use]
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.session_timeout = d;
        self.connection_timeout = d;
        self
    }

    /// Sets the connection timeout alone.
    #[must_use]
    pub fn connection_timeout(mut self, d: Duration) -> Self {
        self.connection_timeout = d;
        self
    }

    /// The host list without the chroot.
    pub fn hosts(&self) -> &str {
        match self.connect.find('/') {
            Some(i) => &self.connect[..i],
            None => &self.connect,
        }
    }

    /// The chroot (`/kafka`), if any (a lone `/` is none).
    pub fn chroot(&self) -> Option<&str> {
        let i = self.connect.find('/')?;
        let c = self.connect[i..].trim_end_matches('/');
        (!c.is_empty()).then_some(c)
    }
}

/// A change of a session's state, as [`ZkClient::session_events`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The connection to the ensemble was lost; the session may still be alive.
    Disconnected,
    /// Connected again, same session (ephemeral nodes and watches kept).
    Reconnected,
    /// The session expired: its ephemeral nodes are gone; a new session is needed.
    Expired,
    /// The session was closed (or failed for good).
    Closed,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kafka07-zk")
            .enable_time()
            .build()
            .expect("cannot start the ZooKeeper client's worker thread")
    })
}

/// One ZooKeeper session, blocking. Cheap to clone (clones share the session). Paths are
/// relative to the connect string's chroot.
#[derive(Clone)]
pub struct ZkClient {
    client: zkc::Client,
    config: ZkConfig,
    /// One count per live clone: [`close`](Self::close) of the last one waits for the server
    /// to confirm the session's end.
    handles: Arc<()>,
}

impl std::fmt::Debug for ZkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkClient")
            .field("connect", &self.config.connect)
            .field("session", &self.session_id())
            .finish()
    }
}

enum Failure {
    Zk(zkc::Error),
    TimedOut,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Zk(e) => write!(f, "{e}"),
            Failure::TimedOut => write!(f, "no answer in time"),
        }
    }
}

impl ZkClient {
    /// Opens a session. Fails within the connection timeout (plus a second) with
    /// [`Error::ZooKeeper`] naming the connect string when no server answers.
    pub fn connect(config: &ZkConfig) -> Result<ZkClient> {
        let fail = |reason: String| Error::ZooKeeper {
            connect: config.connect.clone(),
            op: "connect",
            path: String::new(),
            reason,
        };
        if config.hosts().is_empty() {
            return Err(fail("no host in the connect string".into()));
        }
        let hosts = config.hosts().to_owned();
        let session = config.session_timeout;
        let connection = config.connection_timeout;
        let wait = config.connection_timeout + Duration::from_secs(1);
        let root = runtime()
            .block_on(async move {
                let c = zkc::Client::connector()
                    .with_session_timeout(session)
                    .with_connection_timeout(connection);
                tokio::time::timeout(wait, c.connect(&hosts)).await
            })
            .map_err(|_| fail(format!("no ZooKeeper server answered within {wait:?}")))?
            .map_err(|e| fail(format!("{e}")))?;
        let mut zk = ZkClient {
            client: root,
            config: config.clone(),
            handles: Arc::new(()),
        };
        if let Some(chroot) = config.chroot() {
            zk.ensure_path(chroot)?;
            let c =
                zk.client.clone().chroot(chroot.to_owned()).map_err(|_| {
                    fail(format!("chroot {chroot:?} is not a valid ZooKeeper path"))
                })?;
            zk.client = c;
        }
        Ok(zk)
    }

    /// The config this session was opened with.
    pub fn config(&self) -> &ZkConfig {
        &self.config
    }

    /// The session id (as the server's logs and `ephemeralOwner` show it).
    pub fn session_id(&self) -> i64 {
        self.client.session_id().0
    }

    fn run<T, F>(&self, f: F) -> std::result::Result<T, Failure>
    where
        F: Future<Output = std::result::Result<T, zkc::Error>>,
    {
        let wait = self.config.connection_timeout;
        runtime().block_on(async move {
            match tokio::time::timeout(wait, f).await {
                Ok(r) => r.map_err(Failure::Zk),
                Err(_) => Err(Failure::TimedOut),
            }
        })
    }

    fn err(&self, op: &'static str, path: &str, f: Failure) -> Error {
        Error::ZooKeeper {
            connect: self.config.connect.clone(),
            op,
            path: path.to_owned(),
            reason: f.to_string(),
        }
    }

    /// Creates every missing node of `path` (persistent, empty), like zkclient's
    /// `createPersistent(path, true)`.
    pub fn ensure_path(&self, path: &str) -> Result<()> {
        let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        let mut at = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            at.push('/');
            at.push_str(part);
            match self.run(self.client.create(&at, b"", &opts)) {
                Ok(_) | Err(Failure::Zk(zkc::Error::NodeExists)) => {}
                Err(e) => return Err(self.err("create", &at, e)),
            }
        }
        Ok(())
    }

    /// Creates `path` with `data` (parents created persistent on demand). `Ok(false)` when it
    /// exists already (nothing changed).
    pub fn create(&self, path: &str, data: &[u8], ephemeral: bool) -> Result<bool> {
        let mode = if ephemeral {
            zkc::CreateMode::Ephemeral
        } else {
            zkc::CreateMode::Persistent
        };
        let opts = mode.with_acls(zkc::Acls::anyone_all());
        for attempt in 0..2 {
            match self.run(self.client.create(path, data, &opts)) {
                Ok(_) => return Ok(true),
                Err(Failure::Zk(zkc::Error::NodeExists)) => return Ok(false),
                Err(Failure::Zk(zkc::Error::NoNode)) if attempt == 0 => {
                    if let Some((parent, _)) = path.rsplit_once('/') {
                        if !parent.is_empty() {
                            self.ensure_path(parent)?;
                        }
                    }
                }
                Err(e) => return Err(self.err("create", path, e)),
            }
        }
        Err(self.err("create", path, Failure::Zk(zkc::Error::NoNode)))
    }

    /// The data of `path` and the session owning it (`0` for a persistent node), `None` when
    /// it does not exist.
    pub fn get_with_owner(&self, path: &str) -> Result<Option<(Vec<u8>, i64)>> {
        match self.run(self.client.get_data(path)) {
            Ok((data, stat)) => Ok(Some((data, stat.ephemeral_owner))),
            Err(Failure::Zk(zkc::Error::NoNode)) => Ok(None),
            Err(e) => Err(self.err("get", path, e)),
        }
    }

    /// The data of `path`, `None` when it does not exist.
    pub fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_with_owner(path)?.map(|(d, _)| d))
    }

    /// Writes `data` to a persistent node, creating it (and its parents) when missing.
    pub fn set(&self, path: &str, data: &[u8]) -> Result<()> {
        for _ in 0..3 {
            match self.run(self.client.set_data(path, data, None)) {
                Ok(_) => return Ok(()),
                Err(Failure::Zk(zkc::Error::NoNode)) => {
                    if self.create(path, data, false)? {
                        return Ok(());
                    }
                }
                Err(e) => return Err(self.err("set", path, e)),
            }
        }
        Err(self.err("set", path, Failure::Zk(zkc::Error::NoNode)))
    }

    /// Deletes `path`; a missing node is not an error.
    pub fn delete(&self, path: &str) -> Result<()> {
        match self.run(self.client.delete(path, None)) {
            Ok(()) | Err(Failure::Zk(zkc::Error::NoNode)) => Ok(()),
            Err(e) => Err(self.err("delete", path, e)),
        }
    }

    /// The children of `path` (empty when it does not exist), sorted.
    pub fn children(&self, path: &str) -> Result<Vec<String>> {
        match self.run(self.client.list_children(path)) {
            Ok(mut c) => {
                c.sort();
                Ok(c)
            }
            Err(Failure::Zk(zkc::Error::NoNode)) => Ok(Vec::new()),
            Err(e) => Err(self.err("children", path, e)),
        }
    }

    /// The children of `path`, sorted, and a one-shot watch: `tag` is sent on `notify` when
    /// they change (or, for a missing node, when it is created), or when the session ends.
    pub fn children_watch<T: Send + 'static>(
        &self,
        path: &str,
        notify: &Sender<T>,
        tag: T,
    ) -> Result<Vec<String>> {
        match self.run(self.client.list_and_watch_children(path)) {
            Ok((mut c, w)) => {
                let tx = notify.clone();
                runtime().spawn(async move {
                    w.changed().await;
                    let _ = tx.send(tag);
                });
                c.sort();
                Ok(c)
            }
            Err(Failure::Zk(zkc::Error::NoNode)) => {
                match self.run(self.client.check_and_watch_stat(path)) {
                    Ok((stat, w)) => {
                        let tx = notify.clone();
                        runtime().spawn(async move {
                            w.changed().await;
                            let _ = tx.send(tag);
                        });
                        if stat.is_some() {
                            // Created in between: read again (the watch fires anyway).
                            return self.children(path);
                        }
                        Ok(Vec::new())
                    }
                    Err(e) => Err(self.err("children", path, e)),
                }
            }
            Err(e) => Err(self.err("children", path, e)),
        }
    }

    /// Reports this session's state changes on `notify`, each mapped through `tag`, until the
    /// session ends (expired or closed: the last event).
    pub fn session_events<T: Send + 'static>(
        &self,
        notify: &Sender<T>,
        tag: impl Fn(SessionEvent) -> T + Send + 'static,
    ) {
        let mut w = self.client.state_watcher();
        let tx = notify.clone();
        runtime().spawn(async move {
            loop {
                let ev = match w.changed().await {
                    zkc::SessionState::Disconnected => SessionEvent::Disconnected,
                    zkc::SessionState::SyncConnected | zkc::SessionState::ConnectedReadOnly => {
                        SessionEvent::Reconnected
                    }
                    zkc::SessionState::Expired => SessionEvent::Expired,
                    zkc::SessionState::Closed | zkc::SessionState::AuthFailed => {
                        SessionEvent::Closed
                    }
                };
                let last = matches!(ev, SessionEvent::Expired | SessionEvent::Closed);
                if tx.send(tag(ev)).is_err() || last {
                    return;
                }
            }
        });
    }

    /// Drops this handle. When it is the last clone, the session is closed and this waits
    /// (at most the connection timeout, and never more than 5 s) until the server has
    /// confirmed it, so the session's ephemeral nodes are gone when `close` returns, even if
    /// the process exits right after. The crate closes a session asynchronously when its last
    /// handle drops: without the wait, a process that ends at once can leave its
    /// registrations behind until the session timeout.
    pub fn close(self) {
        let last = Arc::strong_count(&self.handles) == 1;
        let mut state = self.client.state_watcher();
        let wait = self.config.connection_timeout.min(Duration::from_secs(5));
        drop(self);
        if !last {
            return;
        }
        let ended = |s: zkc::SessionState| {
            matches!(
                s,
                zkc::SessionState::Closed
                    | zkc::SessionState::Expired
                    | zkc::SessionState::AuthFailed
            )
        };
        if ended(state.state()) {
            return;
        }
        runtime().block_on(async move {
            let _ =
                tokio::time::timeout(wait, async move { while !ended(state.changed().await) {} })
                    .await;
        });
    }
}
