//! The batch's secret: 32 random bytes made at a batch's first run and kept
//! beside its journal, in `<journal>.secret` (64 hex digits and a newline,
//! mode 0600), never printed.
//!
//! It keys the two HMAC-SHA256s a batch writes or sends where a card
//! number would otherwise be recoverable: the journal's `card_hmac` (of the
//! card number) and the rows' idempotency keys (of the row's content). A
//! card number masked to its first 6 and last 4 digits leaves about a
//! million candidates, which an unkeyed hash would tell apart in a second;
//! without the secret, the journal and the keys tell nothing of them.
//!
//! The file is created once (`create_new`: never overwritten) and is on
//! disk, with its directory entry, before the journal's first line is
//! written. A batch cannot be resumed without it: its rows' keys derive
//! from it. A secret found beside a journal with no batch line (a first
//! run that stopped in between: nothing was sent) is reused. The batch
//! line keeps the secret's [fingerprint](Secret::fingerprint), so that
//! another batch's secret is refused rather than taken for this one's.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::bulk::journal::sync_parent;
use crate::config::warn_if_open;
use crate::exit::Failure;

/// How many random bytes a secret has.
const LEN: usize = 32;

/// A batch's secret.
pub struct Secret {
    bytes: [u8; LEN],
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where the secret of the journal `journal` is: `<journal>.secret`.
pub fn path_for(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".secret");
    PathBuf::from(name)
}

impl Secret {
    /// Makes the secret of a new batch and writes it beside its journal
    /// (0600, fsynced, its directory entry too); the secret, and whether it
    /// was there already. A secret is never replaced: one found there (a
    /// first run that stopped after making it, before the journal's batch
    /// line, so before anything was sent) is read and reused.
    pub fn create(journal: &Path) -> Result<(Secret, bool), Failure> {
        let path = path_for(journal);
        let secret = Secret {
            bytes: rand::random(),
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let write = |mut file: File| -> io::Result<()> {
            file.write_all(format!("{}\n", hex(&secret.bytes)).as_bytes())?;
            file.sync_all()?;
            sync_parent(&path)
        };
        match options.open(&path) {
            Ok(file) => write(file).map_err(|e| {
                Failure::internal(format!(
                    "cannot write the batch secret {}: {e}",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Ok((Secret::load(journal)?, true))
            }
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot create the batch secret {}: {e}",
                    path.display()
                )))
            }
        }
        Ok((secret, false))
    }

    /// The fingerprint the batch line keeps: the first 8 bytes of the
    /// HMAC-SHA256 of `fingerprint`, keyed by the secret, in hex. It tells
    /// two secrets apart and nothing of either.
    pub fn fingerprint(&self) -> String {
        hex(&self.mac(b"fingerprint")[..8])
    }

    /// Refuses (exit 2) a secret whose fingerprint is not the one the
    /// journal's batch line keeps (none kept: not checked).
    pub fn check(&self, journal: &Path, kept: Option<&str>) -> Result<(), Failure> {
        match kept {
            Some(kept) if kept != self.fingerprint() => Err(Failure::usage(format!(
                "the batch secret {} does not match the journal {} (its fingerprint is not                  the one the batch line keeps): it is another batch's secret. Put this                  batch's secret, made at its first run, beside the journal",
                path_for(journal).display(),
                journal.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Reads the secret of a batch being resumed; warns when others than
    /// its owner may read it. Refuses (exit 2) when it is missing: the
    /// rows' keys derive from it.
    pub fn load(journal: &Path) -> Result<Secret, Failure> {
        let path = path_for(journal);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Failure::usage(format!(
                    "the batch secret {} is missing: the batch of {} cannot be resumed safely \
                     without it (the rows' idempotency keys derive from it, so rows in flight \
                     could not be resent with their keys). Put the file made at the batch's \
                     first run back beside the journal. `bulk status --journal {}` still works \
                     without it (it reads only the journal); if the secret is lost, check the \
                     rows in flight in UQPay, then take the rows done out of the CSV and begin \
                     a new journal",
                    path.display(),
                    journal.display(),
                    journal.display()
                )))
            }
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot read the batch secret {}: {e}",
                    path.display()
                )))
            }
        };
        let bytes = unhex(text.trim()).ok_or_else(|| {
            Failure::usage(format!(
                "{} is not a batch secret ({} hex digits expected)",
                path.display(),
                LEN * 2
            ))
        })?;
        warn_if_open(&path, "holds the batch's secret");
        Ok(Secret { bytes })
    }

    /// A secret of these bytes (the tests').
    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; LEN]) -> Secret {
        Secret { bytes }
    }

    /// HMAC-SHA256 of `data`, keyed by the secret.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.bytes).expect("HMAC takes a key of any length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The journal's `card_hmac` of a card number: its HMAC-SHA256, in hex.
    pub fn card_hmac(&self, card_number: &str) -> String {
        hex(&self.mac(card_number.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; LEN]> {
    if text.len() != LEN * 2 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; LEN];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-secret-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn created_once_0600_and_read_back() {
        let dir = scratch();
        let journal = dir.join("cards.journal");
        let (made, reused) = Secret::create(&journal).unwrap();
        assert!(!reused);
        let path = dir.join("cards.journal.secret");
        assert_eq!(path_for(&journal), path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65, "64 hex digits and a newline");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let loaded = Secret::load(&journal).unwrap();
        assert_eq!(loaded.bytes, made.bytes);
        assert_eq!(format!("{loaded:?}"), "Secret(..)");
        // Never replaced: read back and reused.
        let (again, reused) = Secret::create(&journal).unwrap();
        assert!(reused);
        assert_eq!(again.bytes, made.bytes);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        // The fingerprint tells it from another secret.
        assert_eq!(made.fingerprint().len(), 16);
        made.check(&journal, Some(&made.fingerprint())).unwrap();
        made.check(&journal, None).unwrap();
        let other = Secret::from_bytes([3; LEN]);
        let refused = made
            .check(&journal, Some(&other.fingerprint()))
            .unwrap_err();
        assert_eq!(refused.code, crate::exit::USAGE);
        assert!(refused.message.contains("does not match"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_or_damaged_secrets_are_refused() {
        let dir = scratch();
        let journal = dir.join("j");
        let missing = Secret::load(&journal).unwrap_err();
        assert_eq!(missing.code, crate::exit::USAGE);
        assert!(
            missing.message.contains("cannot be resumed safely")
                && missing.message.contains("bulk status"),
            "{}",
            missing.message
        );
        std::fs::write(path_for(&journal), "not hex\n").unwrap();
        let damaged = Secret::load(&journal).unwrap_err();
        assert!(damaged.message.contains("not a batch secret"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn macs_depend_on_the_secret() {
        let a = Secret::from_bytes([1; LEN]);
        let b = Secret::from_bytes([2; LEN]);
        let number = "4096360800133951";
        assert_eq!(a.card_hmac(number), a.card_hmac(number));
        assert_ne!(a.card_hmac(number), b.card_hmac(number));
        assert_eq!(a.card_hmac(number).len(), 64);
        // RFC 4231, test case 2: the HMAC-SHA256 is the standard one.
        let mut key = [0u8; LEN];
        key[..4].copy_from_slice(b"Jefe");
        let rfc = Hmac::<Sha256>::new_from_slice(b"Jefe")
            .unwrap()
            .chain_update(b"what do ya want for nothing?")
            .finalize()
            .into_bytes();
        assert_eq!(
            hex(&rfc),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key shorter than the block is zero-padded: "Jefe" and "Jefe\0..."
        // are the same key, so this secret's MAC is the RFC's.
        assert_eq!(
            hex(&Secret::from_bytes(key).mac(b"what do ya want for nothing?")),
            hex(&rfc)
        );
    }
}
