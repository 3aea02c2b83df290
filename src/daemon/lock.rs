//! The lock on the state directory: one daemon per ledger.
//!
//! Two daemons writing the same SQLite ledger would each open and resolve the same incidents
//! and deliver the same outbox twice. The first takes an exclusive `flock(2)` on
//! `state_dir/dnsgrade.lock` (std's [`File::try_lock`]) and writes its PID into the file; the
//! lock is held as long as the [`StateLock`] lives, which is the daemon's whole life, and the
//! kernel releases it when the process ends, even by `kill -9`, so a stale file never blocks a
//! restart. A second daemon fails to start with an error naming the directory and that PID.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "dnsgrade.lock";

/// An exclusive lock on a state directory, released when dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Why the state directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error("the state directory {dir} is in use by another dnsgrade (PID {pid}); one daemon per state_dir")]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// The PID written by the holder, or "unknown" if it had not written it yet.
        pid: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock the state directory {dir} ({file}): {source}")]
    Io {
        /// The state directory.
        dir: PathBuf,
        /// The lock file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl StateLock {
    /// Takes the lock on `dir` (which must exist) without waiting, and writes this process's
    /// PID into the lock file.
    pub fn acquire(dir: &Path) -> Result<StateLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            file: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let pid = match text.trim() {
                    "" => "unknown".to_string(),
                    p => p.to_string(),
                };
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    pid,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = StateLock::acquire(dir.path()).expect("first lock");
        let err = StateLock::acquire(dir.path()).expect_err("second lock refused");
        let msg = err.to_string();
        assert!(
            msg.contains(&dir.path().display().to_string()),
            "names the directory: {msg}"
        );
        assert!(
            msg.contains(&format!("PID {}", std::process::id())),
            "names the holder: {msg}"
        );
        drop(first);
        StateLock::acquire(dir.path()).expect("free again once the holder is gone");
    }
}
