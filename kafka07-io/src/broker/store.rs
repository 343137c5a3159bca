//! All partition logs of a broker (the reference `LogManager`): lookup, creation, start-up
//! loading and recovery, flushing, the clean-shutdown marker.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use super::log::{Log, LogConfig, Tail, TailRecord};
use super::{PartitionRecovery, StartupReport};
use crate::error::Result;

/// Name of the clean-shutdown marker in the log directory (spec §9.1).
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

pub(crate) type SharedLog = Arc<Mutex<Log>>;

/// Locks a log, ignoring poisoning: a panic in another connection's thread must not take the
/// partition down with it (the log's own state is updated only after successful I/O).
pub(crate) fn lock(log: &SharedLog) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a log could not be created.
#[derive(Debug)]
pub(crate) enum CreateError {
    /// The topic limit was reached (this many topics).
    TooManyTopics(usize),
    /// Creating the directory or segment failed.
    Io(std::io::Error),
}

#[derive(Debug)]
pub(crate) struct Store {
    dir: Option<PathBuf>,
    cfg: LogConfig,
    max_topics: usize,
    logs: RwLock<HashMap<String, HashMap<u32, SharedLog>>>,
    /// Told the name of every topic whose first log is created (ZooKeeper registration).
    on_new_topic: Mutex<Option<std::sync::mpsc::Sender<String>>>,
}

/// Checks a topic name as the 0.7.2 validator does (spec §8.1): 1 to `max_len` UTF-16 units,
/// not `.` or `..`, and none of `/`, U+0000–U+001F, U+007F–U+009F, U+D800–U+F8FF,
/// U+FFF0–U+FFFF. Bytes that are not UTF-8 are rejected (the reference decodes them to
/// U+FFFD, which is in the forbidden range).
pub fn validate_topic(name: &[u8], max_len: usize) -> std::result::Result<&str, &'static str> {
    let Ok(s) = std::str::from_utf8(name) else {
        return Err("not UTF-8");
    };
    if s.is_empty() {
        return Err("empty");
    }
    if s.encode_utf16().count() > max_len {
        return Err("too long");
    }
    if s == "." || s == ".." {
        return Err("'.' and '..' are not allowed");
    }
    let bad = |c: char| {
        matches!(c,
            '/' | '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}'
            | '\u{fff0}'..='\u{ffff}')
    };
    if s.chars().any(bad) {
        return Err("contains an illegal character");
    }
    Ok(s)
}

/// Longest file name (bytes) of a partition directory: Linux's `NAME_MAX`.
pub const MAX_FILE_NAME: usize = 255;

/// Checks that every partition directory of `topic` (`<topic>-<partition>` for partitions
/// `0..partitions`) fits the file-name limit, so that a name the 0.7.2 validator accepts (up
/// to 255 UTF-16 units) is not refused later by the file system, and a topic is valid for all
/// of its partitions or none.
///
/// ```
/// use kafka07_io::fits_file_name;
/// assert!(fits_file_name(&"t".repeat(253), 1)); // "ttt...-0": 255 bytes
/// assert!(!fits_file_name(&"t".repeat(254), 1));
/// assert!(fits_file_name(&"t".repeat(252), 20)); // "-19": 255 bytes
/// assert!(!fits_file_name(&"t".repeat(253), 20));
/// assert!(!fits_file_name(&"é".repeat(128), 1)); // 256 bytes of UTF-8
/// ```
pub fn fits_file_name(topic: &str, partitions: u32) -> bool {
    let last = partitions.saturating_sub(1);
    topic.len() + 1 + last.to_string().len() <= MAX_FILE_NAME
}

impl Store {
    pub(crate) fn memory(cfg: LogConfig, max_topics: usize) -> Store {
        Store {
            dir: None,
            cfg,
            max_topics,
            logs: RwLock::new(HashMap::new()),
            on_new_topic: Mutex::new(None),
        }
    }

    /// Opens (or creates) a log directory: removes the clean-shutdown marker, loads every
    /// `<topic>-<partition>` directory, and recovers the last segment of each when the marker
    /// was absent.
    pub(crate) fn open(
        dir: &Path,
        cfg: LogConfig,
        max_topics: usize,
    ) -> Result<(Store, StartupReport)> {
        fs::create_dir_all(dir)?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        // Our marker lists each partition's tail (the reference's is empty): a partition
        // without a record gets its framing checked (see `Tail::Frames`).
        let records = if clean {
            parse_marker(&fs::read(&marker).unwrap_or_default())
        } else {
            HashMap::new()
        };
        let mut report = StartupReport {
            clean_shutdown: clean,
            partitions: 0,
            recovered: Vec::new(),
            skipped: Vec::new(),
        };
        let mut logs: HashMap<String, HashMap<u32, SharedLog>> = HashMap::new();
        let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if !entry.file_type()?.is_dir() {
                if entry.file_name() != CLEAN_SHUTDOWN_FILE {
                    report.skipped.push(path);
                }
                continue;
            }
            let name = entry.file_name();
            let parsed = name.to_str().and_then(|n| {
                let (topic, part) = n.rsplit_once('-')?;
                let part: u32 = part.parse().ok()?;
                validate_topic(topic.as_bytes(), usize::MAX).ok()?;
                Some((topic.to_owned(), part))
            });
            let Some((topic, partition)) = parsed else {
                report.skipped.push(path);
                continue;
            };
            let tail = match records.get(name.to_str().unwrap_or_default()) {
                Some(rec) => Tail::Check(*rec),
                // The reference's empty marker (or ours without this partition).
                None if clean => Tail::Frames,
                None => Tail::Recover,
            };
            let opened = Log::open(&path, cfg.clone(), tail)?;
            if let Some((segment, truncated_bytes)) = opened.recovered {
                report.recovered.push(PartitionRecovery {
                    topic: topic.clone(),
                    partition,
                    segment,
                    truncated_bytes,
                });
            }
            report.partitions += 1;
            logs.entry(topic)
                .or_default()
                .insert(partition, Arc::new(Mutex::new(opened.log)));
        }
        if clean {
            fs::remove_file(&marker)?;
        }
        Ok((
            Store {
                dir: Some(dir.to_owned()),
                cfg,
                max_topics,
                logs: RwLock::new(logs),
                on_new_topic: Mutex::new(None),
            },
            report,
        ))
    }

    /// Every log is in memory (no data directory): appending never touches a file.
    pub(crate) fn in_memory(&self) -> bool {
        self.dir.is_none()
    }

    pub(crate) fn get(&self, topic: &str, partition: u32) -> Option<SharedLog> {
        let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
        logs.get(topic)?.get(&partition).cloned()
    }

    /// The log, created (directory and first segment) if it does not exist; a new topic
    /// only below the topic limit.
    pub(crate) fn get_or_create(
        &self,
        topic: &str,
        partition: u32,
    ) -> std::result::Result<SharedLog, CreateError> {
        if let Some(l) = self.get(topic, partition) {
            return Ok(l);
        }
        let mut logs = self.logs.write().unwrap_or_else(PoisonError::into_inner);
        let new_topic = !logs.contains_key(topic);
        if new_topic && logs.len() >= self.max_topics {
            return Err(CreateError::TooManyTopics(logs.len()));
        }
        if let Some(l) = logs.get(topic).and_then(|p| p.get(&partition)) {
            return Ok(l.clone());
        }
        let log = match &self.dir {
            None => Log::memory(self.cfg.clone()),
            Some(dir) => Log::create(&dir.join(format!("{topic}-{partition}")), self.cfg.clone())
                .map_err(CreateError::Io)?,
        };
        let log = Arc::new(Mutex::new(log));
        logs.entry(topic.to_owned())
            .or_default()
            .insert(partition, log.clone());
        if new_topic {
            let tx = self
                .on_new_topic
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(tx) = tx.as_ref() {
                let _ = tx.send(topic.to_owned());
            }
        }
        Ok(log)
    }

    /// `(segment files open, segment files opened since start)`.
    pub(crate) fn file_counts(&self) -> (usize, u64) {
        self.cfg.files.counts()
    }

    /// Sends the name of every topic created from now on to `tx` (the ZooKeeper registration).
    #[cfg_attr(not(feature = "zookeeper"), allow(dead_code))]
    pub(crate) fn notify_new_topics(&self, tx: std::sync::mpsc::Sender<String>) {
        *self
            .on_new_topic
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tx);
    }

    /// Every topic with a log (the ZooKeeper registration).
    #[cfg_attr(not(feature = "zookeeper"), allow(dead_code))]
    pub(crate) fn topics(&self) -> Vec<String> {
        let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<String> = logs.keys().cloned().collect();
        v.sort();
        v
    }

    fn all(&self) -> Vec<SharedLog> {
        let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
        logs.values().flat_map(|p| p.values().cloned()).collect()
    }

    /// Every `(topic, partition)` with a log.
    pub(crate) fn partitions(&self) -> Vec<(String, u32)> {
        let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<_> = logs
            .iter()
            .flat_map(|(t, p)| p.keys().map(move |k| (t.clone(), *k)))
            .collect();
        v.sort();
        v
    }

    pub(crate) fn flush_due(&self) {
        for log in self.all() {
            // A failing flush leaves the data unflushed (invisible); it is retried next tick.
            let _ = lock(&log).flush_if_due();
        }
    }

    pub(crate) fn flush_all(&self) -> std::io::Result<()> {
        for log in self.all() {
            lock(&log).flush()?;
        }
        Ok(())
    }

    /// Clean shutdown: flush everything and write the marker, with one line per partition
    /// recording its tail (`<topic>-<partition> TAB <segment> TAB <last entry or -> TAB
    /// <size>`) for the next start's cheap check.
    pub(crate) fn close(&self) -> std::io::Result<()> {
        self.flush_all()?;
        if let Some(dir) = &self.dir {
            let mut text = String::new();
            let logs = self.logs.read().unwrap_or_else(PoisonError::into_inner);
            for (topic, parts) in logs.iter() {
                for (p, log) in parts {
                    let r = lock(log).tail_record();
                    let last = r.last_entry.map_or("-".to_owned(), |v| v.to_string());
                    text.push_str(&format!("{topic}-{p}\t{}\t{last}\t{}\n", r.segment, r.size));
                }
            }
            drop(logs);
            let mut f = fs::File::create(dir.join(CLEAN_SHUTDOWN_FILE))?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()?;
        }
        Ok(())
    }
}

/// Reads the tail records of a clean-shutdown marker; lines that do not parse are ignored
/// (their partitions are then recovered in full).
fn parse_marker(bytes: &[u8]) -> HashMap<String, TailRecord> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            let name = f.next()?;
            let segment = f.next()?.parse().ok()?;
            let last_entry = match f.next()? {
                "-" => None,
                v => Some(v.parse().ok()?),
            };
            let size = f.next()?.parse().ok()?;
            f.next().is_none().then(|| {
                (
                    name.to_owned(),
                    TailRecord {
                        segment,
                        last_entry,
                        size,
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::validate_topic;

    #[test]
    fn topic_names_follow_the_072_validator() {
        assert_eq!(validate_topic(b"good-topic_1.x", 255), Ok("good-topic_1.x"));
        assert_eq!(validate_topic(b"", 255), Err("empty"));
        assert_eq!(
            validate_topic(b".", 255),
            Err("'.' and '..' are not allowed")
        );
        assert_eq!(
            validate_topic(b"..", 255),
            Err("'.' and '..' are not allowed")
        );
        assert!(validate_topic(b"...", 255).is_ok());
        assert!(validate_topic(b"a/b", 255).is_err());
        assert!(validate_topic(b"a\nb", 255).is_err());
        assert!(validate_topic("a\u{85}b".as_bytes(), 255).is_err());
        assert!(validate_topic("a\u{e000}".as_bytes(), 255).is_err());
        assert!(validate_topic("a\u{fffd}".as_bytes(), 255).is_err());
        assert!(validate_topic(b"\xff", 255).is_err());
        assert!(validate_topic("é".as_bytes(), 255).is_ok());
        assert!(validate_topic(&[b'a'; 255], 255).is_ok());
        assert_eq!(validate_topic(&[b'a'; 256], 255), Err("too long"));
    }
}
