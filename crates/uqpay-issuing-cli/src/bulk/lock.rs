//! One run at a time on a journal: an exclusive advisory lock
//! (`flock` on Unix, `LockFileEx` on Windows) on the journal itself,
//! taken before the journal is read and held until the run ends (or its
//! process dies: the system lets it go). A second run on the same journal
//! is refused at once (exit 2) instead of sending the first run's rows in
//! flight again beside it. `bulk status` reads without it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::bulk::journal::sync_parent;
use crate::exit::Failure;

/// The lock on a journal, held as long as this lives.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Takes the lock on the journal at `path` (creating the file, 0600, when
/// absent), or refuses when another run holds it.
pub fn acquire(path: &Path) -> Result<Held, Failure> {
    let fail = |e: std::io::Error| {
        Failure::usage(format!("cannot open the journal {}: {e}", path.display()))
    };
    let created = !path.exists();
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(fail)?;
    if created {
        sync_parent(path).map_err(fail)?;
    }
    match file.try_lock() {
        Ok(()) => Ok(Held { _file: file }),
        Err(TryLockError::WouldBlock) => Err(Failure::usage(format!(
            "another run holds the journal {}: one run at a time on a batch (wait for it to \
             end, or stop it; its lock goes with its process)",
            path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(Failure::usage(format!(
            "cannot lock the journal {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_goes() {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-lock-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let held = acquire(&path).unwrap();
        let refused = acquire(&path).unwrap_err();
        assert_eq!(refused.code, crate::exit::USAGE);
        assert!(
            refused.message.contains("another run"),
            "{}",
            refused.message
        );
        drop(held);
        acquire(&path).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
