//! Broker registration (spec §10.1, §10.2; `server/KafkaZooKeeper.scala`).

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::client::{SessionEvent, ZkClient, ZkConfig};
use super::layout::{broker_id_path, topic_broker_path, BrokerInfo};
use crate::error::{Error, Result};

/// What a broker needs to join a cluster: the ensemble, its id, and the host it tells
/// producers and consumers to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerZkConfig {
    /// The ensemble.
    pub zk: ZkConfig,
    /// `brokerid`.
    pub broker_id: u32,
    /// `hostname`: the host written into the registration (default: the listen address's IP,
    /// or `127.0.0.1` when it listens on every address).
    pub host: Option<String>,
}

enum Msg {
    Topic(String),
    Session(u64, SessionEvent),
    Stop,
}

#[derive(Debug)]
struct State {
    /// Topic → configured partition count, every topic registered (or to register).
    topics: BTreeMap<String, u32>,
    /// Sessions opened (1 at start, +1 per re-registration after expiry).
    sessions: u64,
    /// The last problem, for [`Registration::last_error`].
    last_error: Option<String>,
}

/// A broker's live registration in ZooKeeper, kept by a background thread: topics created
/// later are added, and after a session expiry everything is written again in a new session.
/// Dropping it (or [`close`](Self::close)) closes the session, so the ephemeral nodes vanish
/// at once.
#[derive(Debug)]
pub struct Registration {
    tx: Sender<Msg>,
    state: Arc<Mutex<State>>,
    /// `None` once closed.
    zk: Arc<Mutex<Option<ZkClient>>>,
    thread: Option<JoinHandle<()>>,
    info: BrokerInfo,
}

pub(crate) type TopicCounts = (u32, HashMap<String, u32>);

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Writes `/brokers/ids/<id>`: refuses when a live registration with other data holds it.
fn register_id(zk: &ZkClient, info: &BrokerInfo) -> Result<()> {
    let path = broker_id_path(info.id);
    let data = info.encode();
    for _ in 0..3 {
        if zk.create(&path, data.as_bytes(), true)? {
            return Ok(());
        }
        match zk.get_with_owner(&path)? {
            None => continue, // vanished in between: try again
            Some((held, owner)) => {
                if owner == zk.session_id() {
                    return Ok(());
                }
                if held == data.as_bytes() {
                    // Our own registration from a session that expired on our side but not
                    // yet on the server's: it will vanish with that session, so replace it
                    // (the reference keeps it, and is then unregistered until a restart).
                    zk.delete(&path)?;
                    continue;
                }
                return Err(Error::RegistrationConflict {
                    path,
                    holder: String::from_utf8_lossy(&held).into_owned(),
                });
            }
        }
    }
    Err(Error::RegistrationConflict {
        path,
        holder: "(a registration that keeps changing)".into(),
    })
}

fn register_topic(zk: &ZkClient, topic: &str, id: u32, count: u32) -> Result<()> {
    let path = topic_broker_path(topic, id);
    if !zk.create(&path, count.to_string().as_bytes(), true)? {
        // Ours from an earlier call of this session, or a dead session's: write ours.
        if let Some((held, owner)) = zk.get_with_owner(&path)? {
            if owner != zk.session_id() || held != count.to_string().as_bytes() {
                zk.delete(&path)?;
                zk.create(&path, count.to_string().as_bytes(), true)?;
            }
        }
    }
    Ok(())
}

impl Registration {
    /// Registers broker `cfg.broker_id` listening on `port`, with the local `topics`, and
    /// returns the handle that keeps the registration up. `partitions` gives each topic's
    /// configured partition count (`num.partitions` and the per-topic map).
    pub(crate) fn start(
        cfg: &BrokerZkConfig,
        host: String,
        port: u16,
        topics: Vec<String>,
        partitions: TopicCounts,
    ) -> Result<(Registration, Sender<String>)> {
        let zk = ZkClient::connect(&cfg.zk)?;
        let info = BrokerInfo {
            id: cfg.broker_id,
            creator: format!("{host}-{}", now_ms()),
            host,
            port,
        };
        register_id(&zk, &info)?;
        let count = |t: &str| partitions.1.get(t).copied().unwrap_or(partitions.0);
        let mut map = BTreeMap::new();
        for t in topics {
            let n = count(&t);
            register_topic(&zk, &t, info.id, n)?;
            map.insert(t, n);
        }
        let state = Arc::new(Mutex::new(State {
            topics: map,
            sessions: 1,
            last_error: None,
        }));
        let (tx, rx) = channel();
        zk.session_events(&tx, |e| Msg::Session(1, e));
        let (topic_tx, topic_rx) = channel::<String>();
        // Forward topic creations from the store into the registration thread.
        {
            let tx = tx.clone();
            std::thread::Builder::new()
                .name("kafka07-zk-topics".into())
                .spawn(move || {
                    for t in topic_rx {
                        if tx.send(Msg::Topic(t)).is_err() {
                            return;
                        }
                    }
                })?;
        }
        let zk = Arc::new(Mutex::new(Some(zk)));
        let thread = {
            let (zk, state, info, tx) = (zk.clone(), state.clone(), info.clone(), tx.clone());
            std::thread::Builder::new()
                .name("kafka07-zk-broker".into())
                .spawn(move || keep(rx, tx, zk, state, info, partitions))?
        };
        Ok((
            Registration {
                tx,
                state,
                zk,
                thread: Some(thread),
                info,
            },
            topic_tx,
        ))
    }

    /// The registration as written (`/brokers/ids/<id>`'s data is `info().encode()`).
    pub fn info(&self) -> &BrokerInfo {
        &self.info
    }

    /// Sessions used so far: 1, plus one per re-registration after a session expiry.
    pub fn sessions(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sessions
    }

    /// The topics registered, with their partition counts.
    pub fn topics(&self) -> BTreeMap<String, u32> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .topics
            .clone()
    }

    /// The current session's id.
    pub fn session_id(&self) -> i64 {
        self.zk
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, ZkClient::session_id)
    }

    /// The last problem keeping the registration up (ZooKeeper unreachable, a conflict after
    /// an expiry), `None` while all is well.
    pub fn last_error(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .clone()
    }

    /// Deregisters now: closes the session and waits (a few seconds at most) until the
    /// server confirms it, so `/brokers/ids/<id>` is gone when this returns.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Taken out, so the handle closed is the last one and `close` waits for the server.
        let zk = self
            .zk
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(zk) = zk {
            zk.close();
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

fn keep(
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    zk: Arc<Mutex<Option<ZkClient>>>,
    state: Arc<Mutex<State>>,
    info: BrokerInfo,
    partitions: TopicCounts,
) {
    let mut session = 1u64;
    // Topics whose registration failed (ZooKeeper away): retried on every tick.
    let mut pending: Vec<String> = Vec::new();
    let mut expired_at: Option<Instant> = None;
    loop {
        let msg = rx.recv_timeout(Duration::from_millis(500));
        match msg {
            Ok(Msg::Stop) => return,
            Ok(Msg::Topic(t)) => {
                let n = partitions.1.get(&t).copied().unwrap_or(partitions.0);
                lock(&state).topics.insert(t.clone(), n);
                pending.push(t);
            }
            Ok(Msg::Session(s, SessionEvent::Expired | SessionEvent::Closed)) if s == session => {
                expired_at = Some(Instant::now());
            }
            Ok(Msg::Session(..)) => {}
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if expired_at.is_some() {
            // A new session, then everything again (KafkaZooKeeper.handleNewSession).
            let cfg = match zk.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                Some(c) => c.config().clone(),
                None => return,
            };
            match ZkClient::connect(&cfg).and_then(|c| register_id(&c, &info).map(|_| c)) {
                Ok(c) => {
                    session += 1;
                    let s = session;
                    c.session_events(&tx, move |e| Msg::Session(s, e));
                    *zk.lock().unwrap_or_else(PoisonError::into_inner) = Some(c);
                    let mut st = lock(&state);
                    st.sessions = session;
                    st.last_error = None;
                    pending = st.topics.keys().cloned().collect();
                    expired_at = None;
                }
                Err(e) => {
                    lock(&state).last_error = Some(format!("re-registration: {e}"));
                    continue;
                }
            }
        }
        if !pending.is_empty() {
            let Some(c) = zk.lock().unwrap_or_else(PoisonError::into_inner).clone() else {
                return;
            };
            let topics = lock(&state).topics.clone();
            let mut left = Vec::new();
            for t in pending.drain(..) {
                let n = topics.get(&t).copied().unwrap_or(partitions.0);
                if let Err(e) = register_topic(&c, &t, info.id, n) {
                    lock(&state).last_error = Some(format!("topic {t}: {e}"));
                    left.push(t);
                }
            }
            pending = left;
            if pending.is_empty() {
                lock(&state).last_error = None;
            }
        }
    }
}
