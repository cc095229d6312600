//! The journal of a bulk run: append-only, one JSON object per line, each
//! line on disk (fsynced) before the call it announces is sent.
//!
//! ```text
//! {"event":"batch","batch":"<uuid>","header_sha256":"<hex>","target":"production","on_behalf_of":null,"version":2,"at":"..."}
//! {"event":"sent","row":1,"key":"<uuid>","at":"...","card":"409636******3951","card_hmac":"<hex>","cardholder_id":"...","card_currency":"USD","card_mode":"SHARE"}
//! {"event":"done","row":1,"key":"<uuid>","at":"...","card_id":"...","card_order_id":"..."}
//! {"event":"retry","row":2,"key":"<uuid>","at":"...","error":"..."}
//! {"event":"failed","row":3,"key":"<uuid>","at":"...","error":"..."}
//! {"event":"reconcile","row":4,"key":"<uuid>","at":"...","reason":"answered","error":"...","card_id":"..."}
//! ```
//!
//! The full card number is never written, nor anything it can be recovered
//! from by hashing candidates: a masked one (first 6, last 4) and its
//! HMAC-SHA256 keyed by the batch's secret, which is kept in a file of its
//! own ([`crate::bulk::secret`]). Lines are written by one
//! thread that takes every line waiting, writes them, fsyncs once and only
//! then answers their writers (group commit), so many calls in flight share
//! an fsync. A line cut short by a crash (the last one, with no newline)
//! is ignored when the journal is read, and cut off before it is appended
//! to.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::exit::Failure;

/// The version of the format the `batch` line names: 2 since the card
/// numbers' hashes and the rows' keys are keyed by the batch's secret (1:
/// salted with the batch id, recoverable by hashing candidates).
pub const VERSION: u32 = 2;

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Line {
    /// The first line: the batch id (the namespace of the rows' keys), and
    /// what the batch is bound to.
    Batch {
        /// The batch id.
        batch: Uuid,
        /// SHA-256 of the CSV's header (its columns joined by commas).
        header_sha256: String,
        /// Where the batch goes (`production`, `sandbox`, `mock`, a base URL).
        target: String,
        /// The sub-account the batch acts for.
        on_behalf_of: Option<String>,
        /// The format's version.
        version: u32,
        /// When the batch was created.
        at: DateTime<Utc>,
        /// The fingerprint of the batch's secret
        /// ([`Secret::fingerprint`](crate::bulk::secret::Secret::fingerprint)):
        /// a resume with another batch's secret is refused. Absent from the
        /// journals of earlier versions of this CLI (then not checked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_fingerprint: Option<String>,
    },
    /// A row is about to be sent with this key.
    Sent {
        /// The row's number.
        row: u64,
        /// The idempotency key.
        key: Uuid,
        /// When.
        at: DateTime<Utc>,
        /// The card number, masked (first 6, last 4).
        card: String,
        /// HMAC-SHA256 of the card number keyed by the batch's secret, in hex.
        card_hmac: String,
        /// The cardholder.
        cardholder_id: Uuid,
        /// The currency.
        card_currency: String,
        /// The mode.
        card_mode: String,
    },
    /// The row's card is assigned.
    Done {
        /// The row's number.
        row: u64,
        /// The idempotency key.
        key: Uuid,
        /// When.
        at: DateTime<Utc>,
        /// The card.
        card_id: Uuid,
        /// The card order.
        card_order_id: String,
    },
    /// The row failed for good (UQPay refused it).
    Failed {
        /// The row's number.
        row: u64,
        /// The idempotency key.
        key: Uuid,
        /// When.
        at: DateTime<Utc>,
        /// Why (redacted).
        error: String,
    },
    /// The row met a transient error; it will be sent again with its key.
    Retry {
        /// The row's number.
        row: u64,
        /// The idempotency key.
        key: Uuid,
        /// When.
        at: DateTime<Utc>,
        /// Why (redacted).
        error: String,
    },
    /// The row's outcome is unknown and resending it could do harm: check
    /// the card in UQPay (the key names the request).
    Reconcile {
        /// The row's number (the last one it had).
        row: u64,
        /// The idempotency key.
        key: Uuid,
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: Reconcile,
        /// What happened (redacted).
        error: String,
        /// The card UQPay's answer named, when it could be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card_id: Option<Uuid>,
    },
}

/// Why a row is reconcile-required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reconcile {
    /// UQPay answered 2xx (the assignment is done at UQPay) with a body
    /// that could not be read: never resent.
    Answered,
    /// Left in flight, and no row of the CSV has its content any more (the
    /// row was changed or removed). A row with that content again is
    /// resent with the key, within the resend window.
    NotInCsv,
}

/// The last known state of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Sent (or sent again after a transient error), no outcome known.
    InFlight,
    /// Assigned.
    Done {
        /// The card.
        card_id: Uuid,
        /// The card order.
        card_order_id: String,
    },
    /// Refused for good.
    Failed {
        /// Why.
        error: String,
    },
    /// Outcome unknown: see [`Line::Reconcile`].
    Reconcile {
        /// Why.
        reason: Reconcile,
        /// What happened.
        error: String,
        /// The card UQPay's answer named, if it could be read.
        card_id: Option<Uuid>,
    },
}

impl State {
    /// Whether the request of this key may have been applied at UQPay (in
    /// flight, done, or reconcile-required), as opposed to refused for good.
    pub fn may_be_applied(&self) -> bool {
        !matches!(self, State::Failed { .. })
    }
}

/// What the journal says of one key.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The row it had in the CSV, in the last line about it.
    pub row: u64,
    /// When it was first sent.
    pub first_sent: Option<DateTime<Utc>>,
    /// Its state.
    pub state: State,
    /// The `sent` line's content (for the message about a changed row).
    pub sent: Option<Line>,
}

/// A journal, read.
#[derive(Debug)]
pub struct Replay {
    /// The `batch` line.
    pub batch: Line,
    /// The batch id.
    pub batch_id: Uuid,
    /// Every key's entry.
    pub keys: HashMap<Uuid, Entry>,
    /// Lines read.
    pub lines: usize,
    /// Lines that could not be read (a torn last line, a damaged one).
    pub unreadable: usize,
}

/// Reads a journal; `None` when there is none yet (absent or empty).
pub fn read(path: &Path) -> Result<Option<Replay>, Failure> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::usage(format!(
                "cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    let mut lines = Vec::new();
    let mut unreadable = 0;
    let mut segments: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // The text after the last newline: empty, or a line the crash cut short.
    if let Some(last) = segments.pop() {
        if !last.is_empty() {
            unreadable += 1;
        }
    }
    for segment in segments {
        if segment.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Line>(segment) {
            Ok(line) => lines.push(line),
            Err(_) => unreadable += 1,
        }
    }
    let mut lines = lines.into_iter();
    let batch = match lines.next() {
        None => return Ok(None),
        Some(line @ Line::Batch { .. }) => line,
        Some(_) => {
            return Err(Failure::usage(format!(
                "{} is not a bulk journal (its first line is not a batch line)",
                path.display()
            )))
        }
    };
    let Line::Batch {
        batch: batch_id,
        version,
        ..
    } = &batch
    else {
        unreachable!("matched above");
    };
    if *version > VERSION {
        return Err(Failure::usage(format!(
            "{} was written by a newer uqpay-issuing (journal version {version})",
            path.display()
        )));
    }
    if *version < VERSION {
        return Err(Failure::usage(format!(
            "{} is a version-{version} journal, written by an earlier uqpay-issuing: its card \
             hashes and its rows' keys can be turned back into the card numbers, and this \
             version (journal version {VERSION}) cannot resume it. Finish the batch with the \
             version that began it, or take the rows done out of the CSV and begin a new \
             journal; keep the old journal as you keep the card file, or delete it",
            path.display()
        )));
    }
    let mut replay = Replay {
        batch_id: *batch_id,
        batch: batch.clone(),
        keys: HashMap::new(),
        lines: 1,
        unreadable,
    };
    for line in lines {
        replay.lines += 1;
        replay.apply(line);
    }
    Ok(Some(replay))
}

impl Replay {
    fn apply(&mut self, line: Line) {
        match line {
            Line::Batch { .. } => {}
            Line::Sent { row, key, at, .. } => {
                let entry = self.entry(key, row);
                entry.first_sent = Some(entry.first_sent.map_or(at, |first| first.min(at)));
                // Sent again: in flight, unless an answer is known.
                if matches!(
                    entry.state,
                    State::Failed { .. }
                        | State::Reconcile {
                            reason: Reconcile::NotInCsv,
                            ..
                        }
                ) {
                    entry.state = State::InFlight;
                }
                entry.sent = Some(line);
            }
            Line::Done {
                row,
                key,
                card_id,
                card_order_id,
                ..
            } => {
                self.entry(key, row).state = State::Done {
                    card_id,
                    card_order_id,
                };
            }
            Line::Failed {
                row, key, error, ..
            } => {
                let entry = self.entry(key, row);
                if matches!(entry.state, State::InFlight | State::Failed { .. }) {
                    entry.state = State::Failed { error };
                }
            }
            Line::Retry { row, key, .. } => {
                let entry = self.entry(key, row);
                if matches!(entry.state, State::Failed { .. }) {
                    entry.state = State::InFlight;
                }
            }
            Line::Reconcile {
                row,
                key,
                reason,
                error,
                card_id,
                ..
            } => {
                let entry = self.entry(key, row);
                if !matches!(entry.state, State::Done { .. }) {
                    entry.state = State::Reconcile {
                        reason,
                        error,
                        card_id,
                    };
                }
            }
        }
    }

    /// The key's entry (made in flight if new), its row updated.
    fn entry(&mut self, key: Uuid, row: u64) -> &mut Entry {
        let entry = self.keys.entry(key).or_insert(Entry {
            row,
            first_sent: None,
            state: State::InFlight,
            sent: None,
        });
        entry.row = row;
        entry
    }
}

/// What the journal's writer measured.
#[derive(Debug, Default)]
pub struct Stats {
    /// Lines written.
    pub lines: AtomicU64,
    /// fsyncs made.
    pub syncs: AtomicU64,
    /// Time spent writing and syncing, in nanoseconds.
    pub busy_nanos: AtomicU64,
}

type Request = (Vec<u8>, tokio::sync::oneshot::Sender<io::Result<()>>);

/// The journal, open for appending.
pub struct Writer {
    sender: Option<mpsc::Sender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// What the writer measured.
    pub stats: Arc<Stats>,
    path: PathBuf,
}

impl Writer {
    /// Opens (or creates, 0600) the journal for appending, first cutting off
    /// a line a crash left unfinished.
    pub fn open(path: &Path) -> Result<Writer, Failure> {
        let fail = |e: io::Error| {
            Failure::usage(format!("cannot open the journal {}: {e}", path.display()))
        };
        let created = !path.exists();
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(fail)?;
        cut_torn_tail(&file).map_err(fail)?;
        if created {
            sync_parent(path).map_err(fail)?;
        }
        let stats = Arc::new(Stats::default());
        let (sender, receiver) = mpsc::channel::<Request>();
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(file, receiver, &thread_stats))
            .map_err(fail)?;
        Ok(Writer {
            sender: Some(sender),
            thread: Some(thread),
            stats,
            path: path.to_owned(),
        })
    }

    /// Appends a line; returns once it is on disk.
    pub async fn append(&self, line: &Line) -> Result<(), Failure> {
        let mut bytes = serde_json::to_vec(line)
            .map_err(|e| Failure::internal(format!("cannot encode a journal line: {e}")))?;
        bytes.push(b'\n');
        let (done, wait) = tokio::sync::oneshot::channel();
        let sent = self
            .sender
            .as_ref()
            .map(|s| s.send((bytes, done)).is_ok())
            .unwrap_or(false);
        let written = if sent { wait.await.ok() } else { None };
        match written {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(self.failure(e)),
            None => Err(self.failure(io::Error::other("the journal's writer stopped"))),
        }
    }

    fn failure(&self, e: io::Error) -> Failure {
        Failure::internal(format!(
            "cannot write the journal {}: {e}",
            self.path.display()
        ))
    }

    /// Waits for every line to be on disk and closes the journal.
    pub fn close(mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_loop(mut file: File, receiver: mpsc::Receiver<Request>, stats: &Stats) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while let Ok(more) = receiver.try_recv() {
            batch.push(more);
        }
        let started = Instant::now();
        let mut bytes = Vec::with_capacity(batch.iter().map(|(b, _)| b.len()).sum());
        for (line, _) in &batch {
            bytes.extend_from_slice(line);
        }
        let result = file.write_all(&bytes).and_then(|()| file.sync_data());
        stats
            .busy_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        stats.lines.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (_, done) in batch {
            let _ = done.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

/// Cuts the file after its last newline (a line a crash cut short).
fn cut_torn_tail(file: &File) -> io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut reader = file;
    let mut at = len;
    let mut buffer = [0u8; 4096];
    while at > 0 {
        let start = at.saturating_sub(buffer.len() as u64);
        let chunk = &mut buffer[..(at - start) as usize];
        reader.seek(SeekFrom::Start(start))?;
        reader.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep != len {
                file.set_len(keep)?;
                file.sync_data()?;
            }
            return Ok(());
        }
        at = start;
    }
    file.set_len(0)?;
    file.sync_data()
}

/// Makes a new file's directory entry durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_line(batch: Uuid) -> Line {
        Line::Batch {
            batch,
            header_sha256: "h".into(),
            target: "mock".into(),
            on_behalf_of: None,
            version: VERSION,
            at: Utc::now(),
            secret_fingerprint: None,
        }
    }

    #[tokio::test]
    async fn a_torn_last_line_is_ignored_then_cut_off() {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-journal-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let batch = Uuid::new_v4();
        let key = Uuid::new_v4();
        let writer = Writer::open(&path).unwrap();
        writer.append(&batch_line(batch)).await.unwrap();
        writer
            .append(&Line::Sent {
                row: 1,
                key,
                at: Utc::now(),
                card: "409636******3951".into(),
                card_hmac: "0".repeat(64),
                cardholder_id: Uuid::nil(),
                card_currency: "USD".into(),
                card_mode: "SHARE".into(),
            })
            .await
            .unwrap();
        writer.close();
        // A crash in the middle of the `done` line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"event":"done","row":1,"ke"#).unwrap();
        drop(file);
        let replay = read(&path).unwrap().unwrap();
        assert_eq!(replay.batch_id, batch);
        assert_eq!(replay.unreadable, 1);
        assert_eq!(replay.keys[&key].state, State::InFlight);
        // Appending cuts the torn line off first.
        let writer = Writer::open(&path).unwrap();
        writer
            .append(&Line::Done {
                row: 1,
                key,
                at: Utc::now(),
                card_id: Uuid::nil(),
                card_order_id: "o".into(),
            })
            .await
            .unwrap();
        assert_eq!(writer.stats.lines.load(Ordering::Relaxed), 1);
        writer.close();
        let replay = read(&path).unwrap().unwrap();
        assert_eq!(replay.unreadable, 0);
        assert!(matches!(replay.keys[&key].state, State::Done { .. }));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("4096360800133951"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn journals_of_other_versions_are_refused() {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-journal-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        for (version, expected) in [
            (
                1,
                "is a version-1 journal, written by an earlier uqpay-issuing",
            ),
            (
                3,
                "was written by a newer uqpay-issuing (journal version 3)",
            ),
        ] {
            let mut line = serde_json::to_value(batch_line(Uuid::new_v4())).unwrap();
            line["version"] = version.into();
            std::fs::write(&path, format!("{line}\n")).unwrap();
            let refused = read(&path).unwrap_err();
            assert_eq!(refused.code, crate::exit::USAGE);
            assert!(refused.message.contains(expected), "{}", refused.message);
        }
        let current = serde_json::to_string(&batch_line(Uuid::new_v4())).unwrap();
        std::fs::write(&path, format!("{current}\n")).unwrap();
        assert!(read(&path).unwrap().is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
