//! Idempotency keys: what the simulator remembers of each key, for how
//! long, and what a repeat gets.
//!
//! Once a request starts executing, its key is recorded as in flight; its
//! outcome, success or error, replaces that when it is done. For
//! [`IDEMPOTENCY_TTL`] (on the simulator's clock) the same key with the same
//! request replays the stored answer, with another request it is an
//! `idempotency_error`, and while the first is still in flight it is
//! "request is processing". A record keeps a SHA-256 of the request, not
//! its bytes. Records past the window are dropped as new ones come, and
//! beyond the capacity the oldest settled ones go first; a record in flight
//! is never dropped (only its own request releases it).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::reply::Reply;

/// How long the outcome of an idempotency key is kept (UQPay's FAQ: 24
/// hours); after that the key is new again.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// What identifies "the same request" for an idempotency key: a SHA-256
/// of the account, operation, path and body bytes. A digest, not the bytes: a
/// record must not keep a slice of the connection's read buffer alive (it
/// pinned ~10 KiB per committed request), and 32 bytes tell requests apart
/// as surely as the bytes themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a request of `operation` (the route's operation
    /// id) on `path` with `body`, for `account` (`None`: the master account).
    pub(crate) fn of(account: Option<&str>, operation: &str, path: &str, body: &[u8]) -> Self {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        // Each part length-prefixed, so that no two requests hash alike by
        // moving bytes from one part to the next.
        for part in [
            account.unwrap_or("").as_bytes(),
            &[u8::from(account.is_some())],
            operation.as_bytes(),
            path.as_bytes(),
            body,
        ] {
            digest.update((part.len() as u64).to_le_bytes());
            digest.update(part);
        }
        Self(digest.finalize().into())
    }
}

/// The stored outcome of an idempotency key.
#[derive(Clone, Debug)]
enum Outcome {
    /// Its request is executing.
    InFlight,
    /// Its request is done: the answer it got.
    Done { reply: Reply },
}

/// What is kept of one key.
#[derive(Clone, Debug)]
struct Record {
    fingerprint: Fingerprint,
    outcome: Outcome,
    /// When the key was first seen (the record lives 24 hours from then).
    recorded_at: SystemTime,
    /// How many times its request changed state.
    commits: u32,
    /// How many times its answer was replayed.
    replays: u32,
}

/// What the records say about a request.
#[derive(Debug)]
pub(crate) enum Seen {
    /// A new key (or one whose record expired): go ahead (it is now in
    /// flight).
    New,
    /// The stored outcome, to replay.
    Replay(Reply),
    /// Refused (another request with this key, or the first still in flight).
    Refused(Reply),
}

/// The idempotency records of one simulator.
#[derive(Debug)]
pub(crate) struct Records {
    records: HashMap<Uuid, Record>,
    /// The keys in the order their records were made, with when: the
    /// oldest are dropped first (past 24 hours, or over the capacity).
    order: VecDeque<(SystemTime, Uuid)>,
    /// The most records kept (at least 1).
    capacity: usize,
}

impl Records {
    /// No records; at most `capacity` (at least 1) are kept.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            records: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// What a request with `key` and `fingerprint` arriving at `now` gets;
    /// when it may go ahead, the key is recorded as in flight.
    pub(crate) fn check(&mut self, key: Uuid, fingerprint: Fingerprint, now: SystemTime) -> Seen {
        if let Some(record) = self.records.get_mut(&key) {
            let expired = matches!(record.outcome, Outcome::Done { .. })
                && now
                    .duration_since(record.recorded_at)
                    .is_ok_and(|age| age >= IDEMPOTENCY_TTL);
            if !expired {
                if record.fingerprint != fingerprint {
                    return Seen::Refused(Reply::idempotency_key_reused());
                }
                return match &record.outcome {
                    Outcome::InFlight => Seen::Refused(Reply::processing()),
                    Outcome::Done { reply } => {
                        record.replays += 1;
                        Seen::Replay(reply.clone())
                    }
                };
            }
        }
        let commits = self.records.get(&key).map_or(0, |r| r.commits);
        self.record(
            key,
            Record {
                fingerprint,
                outcome: Outcome::InFlight,
                recorded_at: now,
                commits,
                replays: 0,
            },
            now,
        );
        Seen::New
    }

    /// The request of `key` (in flight) is done: `reply` is kept for its
    /// repeats, and counted as a commit when it `committed` state.
    pub(crate) fn settle(&mut self, key: Uuid, reply: Reply, committed: bool) {
        let record = self
            .records
            .get_mut(&key)
            .expect("in-flight records are only removed by their own request");
        record.outcome = Outcome::Done { reply };
        if committed {
            record.commits += 1;
        }
    }

    /// Forgets `key` if its request is still in flight (it went away
    /// without an outcome: the key is free again); a settled record stays.
    pub(crate) fn release(&mut self, key: Uuid) {
        if matches!(
            self.records.get(&key).map(|r| &r.outcome),
            Some(Outcome::InFlight)
        ) {
            self.records.remove(&key);
        }
    }

    /// How many times the request of `key` changed state.
    pub(crate) fn commits(&self, key: Uuid) -> u32 {
        self.records.get(&key).map_or(0, |r| r.commits)
    }

    /// How many times the answer of `key` was replayed.
    pub(crate) fn replays(&self, key: Uuid) -> u32 {
        self.records.get(&key).map_or(0, |r| r.replays)
    }

    /// How many records are kept right now.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The keys whose request changed state more than once.
    pub(crate) fn committed_more_than_once(&self) -> Vec<Uuid> {
        self.records
            .iter()
            .filter(|(_, r)| r.commits > 1)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Records `record` for `key`, then drops the records past the 24-hour
    /// window at `now`, and the oldest settled ones beyond the capacity.
    fn record(&mut self, key: Uuid, record: Record, now: SystemTime) {
        self.order.push_back((record.recorded_at, key));
        self.records.insert(key, record);
        while let Some(&(at, oldest)) = self.order.front() {
            let expired = now
                .duration_since(at)
                .is_ok_and(|age| age >= IDEMPOTENCY_TTL);
            if !expired && self.records.len() <= self.capacity {
                break;
            }
            self.order.pop_front();
            // Only the record made at that time (the key may have been
            // recorded again since), and never one still in flight.
            if let Some(record) = self.records.get(&oldest) {
                if record.recorded_at == at && matches!(record.outcome, Outcome::Done { .. }) {
                    self.records.remove(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::StatusCode;

    const T0: Duration = Duration::from_secs(1_800_000_000);

    fn at(offset: Duration) -> SystemTime {
        SystemTime::UNIX_EPOCH + T0 + offset
    }

    fn print(body: &str) -> Fingerprint {
        Fingerprint::of(None, "update_card", "/v1/issuing/cards/x", body.as_bytes())
    }

    fn ok(text: &str) -> Reply {
        Reply::ok(&serde_json::json!({ "text": text }))
    }

    fn status(seen: &Seen) -> (&'static str, StatusCode, String) {
        match seen {
            Seen::New => ("new", StatusCode::OK, String::new()),
            Seen::Replay(reply) => ("replay", reply.status, body(reply)),
            Seen::Refused(reply) => ("refused", reply.status, body(reply)),
        }
    }

    fn body(reply: &Reply) -> String {
        String::from_utf8(reply.body.to_vec()).unwrap()
    }

    #[test]
    fn a_repeat_replays_a_changed_request_is_refused_and_an_in_flight_one_is_processing() {
        let mut records = Records::new(10);
        let key = Uuid::new_v4();
        assert!(matches!(
            records.check(key, print("a"), at(Duration::ZERO)),
            Seen::New
        ));
        // Still in flight: the same request is "processing", another one a
        // reused key.
        let (kind, code, text) = status(&records.check(key, print("a"), at(Duration::ZERO)));
        assert_eq!((kind, code), ("refused", StatusCode::BAD_REQUEST));
        assert!(text.contains("Request is processing"), "{text}");
        let (kind, _, text) = status(&records.check(key, print("b"), at(Duration::ZERO)));
        assert_eq!(kind, "refused");
        assert!(text.contains("idempotency_key_reused"), "{text}");

        records.settle(key, ok("first"), true);
        let (kind, code, text) = status(&records.check(key, print("a"), at(Duration::ZERO)));
        assert_eq!(
            (kind, code, text.as_str()),
            ("replay", StatusCode::OK, r#"{"text":"first"}"#)
        );
        let (kind, _, text) = status(&records.check(key, print("b"), at(Duration::ZERO)));
        assert_eq!(kind, "refused");
        assert!(text.contains("idempotency_key_reused"), "{text}");
        assert_eq!((records.commits(key), records.replays(key)), (1, 1));
        assert_eq!(records.len(), 1);
        assert!(records.committed_more_than_once().is_empty());
    }

    #[test]
    fn a_key_is_new_again_after_the_window_and_keeps_its_commits() {
        let mut records = Records::new(10);
        let key = Uuid::new_v4();
        assert!(matches!(
            records.check(key, print("a"), at(Duration::ZERO)),
            Seen::New
        ));
        records.settle(key, ok("first"), true);
        let just_before = IDEMPOTENCY_TTL - Duration::from_millis(1);
        assert!(matches!(
            records.check(key, print("a"), at(just_before)),
            Seen::Replay(_)
        ));
        // Another body is no longer an error once the window is over.
        assert!(matches!(
            records.check(key, print("b"), at(IDEMPOTENCY_TTL)),
            Seen::New
        ));
        records.settle(key, ok("second"), true);
        assert_eq!(records.commits(key), 2);
        assert_eq!(
            records.replays(key),
            0,
            "a new record counts its own replays"
        );
        assert_eq!(records.committed_more_than_once(), [key]);
    }

    #[test]
    fn an_in_flight_record_never_expires_and_only_its_release_frees_the_key() {
        let mut records = Records::new(10);
        let key = Uuid::new_v4();
        assert!(matches!(
            records.check(key, print("a"), at(Duration::ZERO)),
            Seen::New
        ));
        let much_later = at(IDEMPOTENCY_TTL * 3);
        assert!(matches!(
            records.check(key, print("a"), much_later),
            Seen::Refused(_)
        ));
        records.release(key);
        assert_eq!(records.len(), 0);
        assert!(matches!(
            records.check(key, print("b"), much_later),
            Seen::New
        ));
        // A settled record is not released.
        records.settle(key, ok("done"), false);
        records.release(key);
        assert_eq!(records.len(), 1);
        assert_eq!(records.commits(key), 0, "a refusal is no commit");
    }

    #[test]
    fn records_past_the_window_and_the_oldest_settled_beyond_the_capacity_are_dropped() {
        let mut records = Records::new(3);
        let keys: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        for key in &keys {
            assert!(matches!(
                records.check(*key, print("a"), at(Duration::ZERO)),
                Seen::New
            ));
        }
        // The first stays in flight; the others settle.
        for key in &keys[1..] {
            records.settle(*key, ok("x"), true);
        }
        let fourth = Uuid::new_v4();
        assert!(matches!(
            records.check(fourth, print("a"), at(Duration::ZERO)),
            Seen::New
        ));
        assert_eq!(records.len(), 3, "one dropped for the capacity");
        assert_eq!(records.commits(keys[1]), 0, "the oldest settled one went");
        assert!(
            matches!(
                records.check(keys[0], print("a"), at(Duration::ZERO)),
                Seen::Refused(_)
            ),
            "the in-flight one was kept"
        );
        records.settle(keys[0], ok("x"), true);
        records.settle(fourth, ok("x"), true);
        // A day later, a new record sweeps the settled ones out.
        let fifth = Uuid::new_v4();
        assert!(matches!(
            records.check(fifth, print("a"), at(IDEMPOTENCY_TTL)),
            Seen::New
        ));
        assert_eq!((records.commits(keys[2]), records.commits(fourth)), (0, 0));
        assert!(matches!(
            records.check(fifth, print("a"), at(IDEMPOTENCY_TTL)),
            Seen::Refused(_)
        ));
        assert_eq!(Records::new(0).capacity, 1);
    }

    #[test]
    fn fingerprints_tell_account_operation_path_and_body_apart() {
        let base = Fingerprint::of(Some("acct"), "update_card", "/p", b"{}");
        assert_eq!(
            base,
            Fingerprint::of(Some("acct"), "update_card", "/p", b"{}")
        );
        for other in [
            Fingerprint::of(None, "update_card", "/p", b"{}"),
            Fingerprint::of(Some(""), "update_card", "/p", b"{}"),
            Fingerprint::of(Some("acct"), "update_card_status", "/p", b"{}"),
            Fingerprint::of(Some("acct"), "update_card", "/q", b"{}"),
            Fingerprint::of(Some("acct"), "update_card", "/p", b"{ }"),
            // Bytes moved from one part to the next.
            Fingerprint::of(Some("acc"), "tupdate_card", "/p", b"{}"),
        ] {
            assert_ne!(base, other);
        }
        assert_ne!(
            Fingerprint::of(None, "", "", b""),
            Fingerprint::of(Some(""), "", "", b""),
            "the master account is not an empty account id"
        );
    }
}
