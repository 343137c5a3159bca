//! A bounded cache of open segment files (issue #14, item 4): partitions do not keep their
//! segments open; a segment is opened when it is written or read and stays open while it is
//! among the most recently used, so the broker's file descriptors for segments stay at most
//! [`BrokerConfig::max_open_segments`](super::BrokerConfig::max_open_segments) (plus those a
//! response being written still holds).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Open segment files by path, least recently used closed first.
#[derive(Debug)]
pub(crate) struct FileCache {
    cap: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    files: HashMap<PathBuf, (Arc<File>, u64)>,
    tick: u64,
    opened: u64,
}

impl FileCache {
    pub(crate) fn new(cap: usize) -> FileCache {
        FileCache {
            cap: cap.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The open file (read and write) at `path`, opened if it is not cached.
    pub(crate) fn get(&self, path: &Path) -> io::Result<Arc<File>> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((f, used)) = inner.files.get_mut(path) {
            *used = tick;
            return Ok(f.clone());
        }
        let f = Arc::new(OpenOptions::new().read(true).write(true).open(path)?);
        inner.opened += 1;
        if inner.files.len() >= self.cap {
            // O(cap) scan, only when a file is opened with the cache full.
            let oldest = inner
                .files
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(p, _)| p.clone());
            if let Some(p) = oldest {
                inner.files.remove(&p);
            }
        }
        inner.files.insert(path.to_owned(), (f.clone(), tick));
        Ok(f)
    }

    /// `(files open in the cache, files opened since start)`.
    pub(crate) fn counts(&self) -> (usize, u64) {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (inner.files.len(), inner.opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_is_closed_first() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..4).map(|i| dir.path().join(format!("{i}"))).collect();
        for p in &paths {
            std::fs::write(p, b"x").unwrap();
        }
        let c = FileCache::new(2);
        c.get(&paths[0]).unwrap();
        c.get(&paths[1]).unwrap();
        c.get(&paths[0]).unwrap(); // 1 is now the oldest
        c.get(&paths[2]).unwrap();
        assert_eq!(c.counts(), (2, 3));
        c.get(&paths[0]).unwrap(); // still cached
        assert_eq!(c.counts(), (2, 3));
        c.get(&paths[1]).unwrap(); // was closed: reopened
        assert_eq!(c.counts(), (2, 4));
        assert!(c.get(&dir.path().join("missing")).is_err());
    }
}
