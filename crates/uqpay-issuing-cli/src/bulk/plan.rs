//! What a run does with each row: the row's idempotency key, derived from
//! the batch and the row's content alone, and the decision the journal
//! leads to. The journal's entries are matched to the CSV's rows by
//! content (the key), never by position: rows may be inserted, deleted or
//! moved between runs.
//!
//! - a row whose key the journal has is that entry, whatever its row
//!   number now: skipped when done, failed or reconcile-required; resent
//!   with its key when in flight (unless first sent too long ago);
//! - a row whose key the journal lacks, but whose card (`card_hmac`) or
//!   cardholder the journal has under another key that may have been
//!   applied (in flight, done, reconcile-required) and that no row of the
//!   CSV has any more, is that row changed: refused, nothing sent;
//! - any other row is new, and sent;
//! - a key in flight or reconcile-required that no row has any more is
//!   reported reconcile-required.
//!
//! Rows in flight are sent before the new ones, the oldest first, so that
//! they are resent inside UQPay's 24-hour idempotency window.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::bulk::input::{BadRow, Input, Row};
use crate::bulk::journal::{Entry, Line, Reconcile, Replay, State};
use crate::bulk::outcome::{Outcome, Status};
use crate::bulk::secret::Secret;

/// A row first sent longer ago than this is not resent: UQPay keeps a key
/// for 24 hours, and it may have expired by the time the request arrives
/// (the window, less an hour). Checked when the run is planned and again
/// when each row is about to be sent.
pub const RESEND_WITHIN: chrono::TimeDelta = chrono::TimeDelta::hours(23);

/// The idempotency key of a row: a UUID v5 in the batch's namespace, of the
/// HMAC-SHA256, keyed by the batch's secret, of the row's canonical content
/// (the four values, as sent, one per line). The same row always has the
/// same key, whether or not its journal line survived (the secret is kept
/// beside the journal); two rows with the same content would have one key
/// (they are refused as duplicates before that). Without the secret, a key
/// (sent to UQPay, written in traces) tells nothing of the card number.
pub fn key(batch: Uuid, secret: &Secret, row: &Row) -> Uuid {
    let canonical = format!(
        "{}\n{}\n{}\n{}",
        row.cardholder_id.hyphenated(),
        row.card_number,
        row.card_currency,
        row.card_mode
    );
    Uuid::new_v5(&batch, &secret.mac(canonical.as_bytes()))
}

/// Whether a row first sent at `first_sent` may no longer be resent at
/// `now` (see [`RESEND_WITHIN`]).
pub fn too_old(first_sent: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    first_sent.is_some_and(|first| now.signed_duration_since(first) > RESEND_WITHIN)
}

/// The message of a row in flight too long to resend.
pub fn too_old_message(key: Uuid, first_sent: Option<DateTime<Utc>>) -> String {
    format!(
        "sent at {} with key {key} and no outcome recorded; UQPay keeps a key for 24 hours, \
         so resending could assign it twice: check the card in UQPay, then remove the row or \
         start a new journal",
        first_sent.map(|t| t.to_rfc3339()).unwrap_or_default()
    )
}

/// A row to send.
#[derive(Clone, Debug)]
pub struct Job {
    /// The row.
    pub row: Row,
    /// Its key.
    pub key: Uuid,
    /// The `sent` line announcing it.
    pub sent: Line,
    /// How many times this run queued it again.
    pub requeues: u32,
    /// When its key was first sent (by an earlier run, or by this one once
    /// sent): past [`RESEND_WITHIN`] it is not sent again.
    pub first_sent: Option<DateTime<Utc>>,
}

/// A key of the journal, in flight or reconcile-required, that no row of
/// the CSV has any more (its row was changed or removed).
#[derive(Clone, Debug)]
pub struct Orphan {
    /// The key.
    pub key: Uuid,
    /// The row it had.
    pub row: u64,
    /// Whether it was in flight (its `reconcile` line is still to be
    /// written), rather than reconcile-required already.
    pub in_flight: bool,
    /// Its outcome (reconcile-required).
    pub outcome: Outcome,
}

/// The rows to send, and those settled without sending.
#[derive(Debug, Default)]
pub struct Plan {
    /// The rows to send: the rows in flight first (the oldest first), then
    /// the new rows in the CSV's order.
    pub jobs: Vec<Job>,
    /// The rows settled without sending, by row.
    pub settled: BTreeMap<u64, Outcome>,
    /// The journal's keys in flight or reconcile-required that match no row.
    pub orphans: Vec<Orphan>,
}

/// What the journal has under the keys no row of the CSV has any more, by
/// card and by cardholder: the rows changed (or removed) since they were
/// sent.
#[derive(Default)]
struct Earlier<'a> {
    by_card: HashMap<&'a str, (Uuid, &'a Entry)>,
    by_holder: HashMap<Uuid, (Uuid, &'a Entry)>,
}

impl<'a> Earlier<'a> {
    fn new(replay: &'a Replay, keys: &HashSet<Uuid>) -> Self {
        let mut earlier = Earlier::default();
        for (key, entry) in &replay.keys {
            if keys.contains(key) || !entry.state.may_be_applied() {
                continue;
            }
            if let Some(Line::Sent {
                card_hmac,
                cardholder_id,
                ..
            }) = &entry.sent
            {
                earlier.by_card.insert(card_hmac, (*key, entry));
                earlier.by_holder.insert(*cardholder_id, (*key, entry));
            }
        }
        earlier
    }

    /// Why `row` (whose key the journal lacks) is refused, if it is.
    fn refuse(&self, row: &Row, secret: &Secret) -> Option<String> {
        let (column, what, (key, entry)) = if let Some(found) = self
            .by_card
            .get(secret.card_hmac(&row.card_number).as_str())
        {
            ("card_number", "card", found)
        } else {
            let found = self.by_holder.get(&row.cardholder_id)?;
            ("cardholder_id", "cardholder", found)
        };
        let state = match &entry.state {
            State::InFlight => "in flight",
            State::Done { .. } => "done",
            State::Reconcile { .. } => "reconcile-required",
            State::Failed { .. } => "failed",
        };
        Some(format!(
            "row {}, column {column}: the journal has this {what} under another key (its row {}, \
             key {key}, {state}{}): the row changed since it was sent, and the first request \
             may have been applied. Restore the row as it was, or put the change in a new \
             file with a new journal once the first request is reconciled",
            row.row,
            entry.row,
            changed_columns(entry, row, secret)
                .map(|c| format!("; changed: {c}"))
                .unwrap_or_default(),
        ))
    }
}

/// The columns of `row` that differ from what `entry` was sent with.
fn changed_columns(entry: &Entry, row: &Row, secret: &Secret) -> Option<String> {
    let Some(Line::Sent {
        card_hmac,
        cardholder_id,
        card_currency,
        card_mode,
        ..
    }) = &entry.sent
    else {
        return None;
    };
    let mut columns = Vec::new();
    if *cardholder_id != row.cardholder_id {
        columns.push("cardholder_id");
    }
    if secret.card_hmac(&row.card_number) != *card_hmac {
        columns.push("card_number");
    }
    if *card_currency != row.card_currency {
        columns.push("card_currency");
    }
    if *card_mode != row.card_mode.to_string() {
        columns.push("card_mode");
    }
    Some(columns.join(","))
}

/// Decides what to do with each row of `input` given the journal.
pub fn plan(
    input: &Input,
    replay: Option<&Replay>,
    batch: Uuid,
    secret: &Secret,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    let rows: Vec<(Row, Uuid)> = input
        .rows
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|row| (row.clone(), key(batch, secret, row)))
        .collect();
    let keys: HashSet<Uuid> = rows.iter().map(|(_, k)| *k).collect();
    for bad in input.rows.iter().filter_map(|r| r.as_ref().err()) {
        plan.settled.insert(bad.row, bad_outcome(bad));
    }
    let earlier = replay.map(|r| Earlier::new(r, &keys)).unwrap_or_default();
    let (mut resends, mut new) = (Vec::new(), Vec::new());
    for (row, key) in rows {
        let entry = replay.and_then(|r| r.keys.get(&key));
        let settled = match entry {
            Some(entry) => settle(&row, key, entry, now),
            None => earlier
                .refuse(&row, secret)
                .map(|why| Outcome::failed(row.row, why, row.extra.clone())),
        };
        if let Some(outcome) = settled {
            plan.settled.insert(row.row, outcome);
            continue;
        }
        let sent = Line::Sent {
            row: row.row,
            key,
            at: now,
            card: uqpay_issuing::raw::pan::mask(&row.card_number),
            card_hmac: secret.card_hmac(&row.card_number),
            cardholder_id: row.cardholder_id,
            card_currency: row.card_currency.clone(),
            card_mode: row.card_mode.to_string(),
        };
        let job = Job {
            row,
            key,
            sent,
            requeues: 0,
            first_sent: entry.and_then(|e| e.first_sent),
        };
        if entry.is_some() {
            resends.push(job);
        } else {
            new.push(job);
        }
    }
    // The oldest first; a key with no `sent` line readable last of them.
    resends.sort_by_key(|job| (job.first_sent.is_none(), job.first_sent, job.row.row));
    plan.jobs = resends.into_iter().chain(new).collect();
    if let Some(replay) = replay {
        plan.orphans = orphans(replay, &keys);
    }
    plan
}

/// What a row whose key the journal has comes to without being sent, if
/// it is not to be sent.
fn settle(row: &Row, key: Uuid, entry: &Entry, now: DateTime<Utc>) -> Option<Outcome> {
    let extra = row.extra.clone();
    match &entry.state {
        State::Done {
            card_id,
            card_order_id,
        } => Some(Outcome {
            card_id: Some(*card_id),
            card_order_id: Some(card_order_id.clone()),
            earlier: true,
            ..Outcome::new(row.row, Status::Done, extra)
        }),
        State::Failed { error } => Some(Outcome {
            earlier: true,
            ..Outcome::failed(row.row, error.clone(), extra)
        }),
        State::Reconcile {
            reason: Reconcile::Answered,
            error,
            card_id,
        } => Some(Outcome {
            card_id: *card_id,
            earlier: true,
            ..Outcome::reconcile(row.row, format!("row {}: {error}", row.row), extra)
        }),
        State::InFlight
        | State::Reconcile {
            reason: Reconcile::NotInCsv,
            ..
        } if too_old(entry.first_sent, now) => Some(Outcome::reconcile(
            row.row,
            format!(
                "row {}: {}",
                row.row,
                too_old_message(key, entry.first_sent)
            ),
            extra,
        )),
        State::InFlight | State::Reconcile { .. } => None,
    }
}

/// The journal's keys in flight or reconcile-required that no row of the
/// CSV has (sorted by their row).
fn orphans(replay: &Replay, keys: &HashSet<Uuid>) -> Vec<Orphan> {
    let mut orphans: Vec<Orphan> = replay
        .keys
        .iter()
        .filter(|(key, _)| !keys.contains(key))
        .filter_map(|(key, entry)| {
            let (in_flight, card_id, what) = match &entry.state {
                State::InFlight => (true, None, "in flight".to_owned()),
                State::Reconcile { error, card_id, .. } => (false, *card_id, error.clone()),
                State::Done { .. } | State::Failed { .. } => return None,
            };
            let when = entry
                .first_sent
                .map(|t| format!(", first sent at {}", t.to_rfc3339()))
                .unwrap_or_default();
            let error = if in_flight {
                format!(
                    "the journal's row {} (key {key}{when}) was in flight and no row of the CSV \
                     has its content any more (changed or removed): the request may have been \
                     applied; check the card in UQPay (or restore the row within 23 hours of its \
                     first sending, and it is resent with its key)",
                    entry.row
                )
            } else {
                format!(
                    "the journal's row {} (key {key}{when}), no longer in the CSV: {what}",
                    entry.row
                )
            };
            Some(Orphan {
                key: *key,
                row: entry.row,
                in_flight,
                outcome: Outcome {
                    row: None,
                    card_id,
                    earlier: !in_flight,
                    ..Outcome::reconcile(entry.row, error, Vec::new())
                },
            })
        })
        .collect();
    orphans.sort_by_key(|o| (o.row, o.key));
    orphans
}

fn bad_outcome(bad: &BadRow) -> Outcome {
    Outcome::failed(bad.row, bad.message(), bad.extra.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uqpay_issuing::CardMode;

    fn row(n: u64, number: &str) -> Row {
        Row {
            row: n,
            cardholder_id: Uuid::from_u128(7),
            card_number: number.into(),
            card_currency: "USD".into(),
            card_mode: CardMode::Share,
            extra: Vec::new(),
        }
    }

    #[test]
    fn keys_depend_on_the_batch_the_secret_and_the_content_only() {
        let batch = Uuid::from_u128(1);
        let secret = Secret::from_bytes([7; 32]);
        let a = row(1, "4096360800133951");
        let mut moved = a.clone();
        moved.row = 9;
        let key_of = |row: &Row| key(batch, &secret, row);
        assert_eq!(key_of(&a), key_of(&moved));
        assert_eq!(key_of(&a), key(batch, &Secret::from_bytes([7; 32]), &a));
        assert_eq!(key_of(&a).get_version_num(), 5);
        assert_ne!(key_of(&a), key_of(&row(1, "4096360800133952")));
        assert_ne!(key_of(&a), key(Uuid::from_u128(2), &secret, &a));
        assert_ne!(key_of(&a), key(batch, &Secret::from_bytes([8; 32]), &a));
        // Not the unkeyed key of version 1, which a candidate number would give.
        let canonical = format!("{}\n4096360800133951\nUSD\nSHARE", a.cardholder_id);
        assert_ne!(key_of(&a), Uuid::new_v5(&batch, canonical.as_bytes()));
    }

    fn replay_with(batch: Uuid, lines: Vec<Line>) -> Replay {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-plan-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let mut text = serde_json::to_string(&Line::Batch {
            batch,
            header_sha256: "h".into(),
            target: "mock".into(),
            on_behalf_of: None,
            version: crate::bulk::journal::VERSION,
            at: Utc::now(),
            secret_fingerprint: None,
        })
        .unwrap();
        for line in lines {
            text.push('\n');
            text.push_str(&serde_json::to_string(&line).unwrap());
        }
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        let replay = crate::bulk::journal::read(&path).unwrap().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        replay
    }

    #[test]
    fn done_in_flight_old_and_changed_rows() {
        let batch = Uuid::from_u128(1);
        let secret = Secret::from_bytes([7; 32]);
        let key_of = |row: &Row| key(batch, &secret, row);
        let rows = [
            row(1, "4096360800133951"),
            row(2, "4096360800133952"),
            row(3, "4096360800133953"),
            row(4, "4096360800133954"),
        ];
        let now = Utc::now();
        let sent = |r: &Row, at: DateTime<Utc>| Line::Sent {
            row: r.row,
            key: key_of(r),
            at,
            card: uqpay_issuing::raw::pan::mask(&r.card_number),
            card_hmac: secret.card_hmac(&r.card_number),
            cardholder_id: r.cardholder_id,
            card_currency: r.card_currency.clone(),
            card_mode: r.card_mode.to_string(),
        };
        let replay = replay_with(
            batch,
            vec![
                sent(&rows[0], now),
                Line::Done {
                    row: 1,
                    key: key_of(&rows[0]),
                    at: now,
                    card_id: Uuid::from_u128(9),
                    card_order_id: "o".into(),
                },
                sent(&rows[1], now),
                sent(&rows[2], now - chrono::TimeDelta::hours(25)),
                sent(&rows[3], now),
            ],
        );
        let mut changed_row = rows[3].clone();
        changed_row.card_currency = "EUR".into();
        let input = Input {
            header_sha256: "h".into(),
            extra_columns: Vec::new(),
            rows: vec![
                Ok(rows[0].clone()),
                Ok(rows[1].clone()),
                Ok(rows[2].clone()),
                Ok(changed_row),
                Ok(Row {
                    // Another cardholder: row 4's (changed) is refused with it.
                    cardholder_id: Uuid::from_u128(8),
                    ..row(5, "4096360800133955")
                }),
            ],
        };
        let plan = plan(&input, Some(&replay), batch, &secret, now);
        assert_eq!(plan.settled[&1].status, Status::Done);
        assert_eq!(plan.settled[&3].status, Status::ReconcileRequired);
        let refused = plan.settled[&4].error.clone().unwrap();
        assert!(
            refused.starts_with(
                "row 4, column card_number: the journal has this card under another key (its row 4"
            ) && refused.contains(&key_of(&rows[3]).to_string())
                && refused.contains("changed: card_currency"),
            "{refused}"
        );
        let sent_rows: Vec<u64> = plan.jobs.iter().map(|j| j.row.row).collect();
        assert_eq!(sent_rows, [2, 5]);
        assert_eq!(plan.jobs[0].key, key_of(&rows[1]));
        // Row 4's key, in flight, matches no row any more.
        assert_eq!(plan.orphans.len(), 1);
        assert_eq!(plan.orphans[0].key, key_of(&rows[3]));
        assert!(plan.orphans[0].in_flight);
        assert_eq!(plan.orphans[0].outcome.status, Status::ReconcileRequired);
    }

    #[test]
    fn rows_are_matched_by_content_not_position() {
        let batch = Uuid::from_u128(1);
        let secret = Secret::from_bytes([7; 32]);
        let key_of = |row: &Row| key(batch, &secret, row);
        let holder = |n: u128, mut row: Row| {
            row.cardholder_id = Uuid::from_u128(n);
            row
        };
        let a = holder(10, row(1, "4096360800000011"));
        let done = holder(11, row(2, "4096360800000012"));
        let now = Utc::now();
        let sent = |r: &Row, at: DateTime<Utc>| Line::Sent {
            row: r.row,
            key: key_of(r),
            at,
            card: uqpay_issuing::raw::pan::mask(&r.card_number),
            card_hmac: secret.card_hmac(&r.card_number),
            cardholder_id: r.cardholder_id,
            card_currency: r.card_currency.clone(),
            card_mode: r.card_mode.to_string(),
        };
        let replay = replay_with(
            batch,
            vec![
                sent(&a, now),
                sent(&done, now),
                Line::Done {
                    row: 2,
                    key: key_of(&done),
                    at: now,
                    card_id: Uuid::from_u128(9),
                    card_order_id: "o".into(),
                },
            ],
        );
        // A row inserted on top, the done row moved down, A's card changed
        // and moved to the end.
        let inserted = holder(12, row(1, "4096360800000013"));
        let mut moved = done.clone();
        moved.row = 2;
        let mut changed = holder(10, row(3, "4096360800000099"));
        changed.extra = vec!["x".into()];
        let input = Input {
            header_sha256: "h".into(),
            extra_columns: Vec::new(),
            rows: vec![Ok(inserted.clone()), Ok(moved), Ok(changed)],
        };
        let plan = plan(&input, Some(&replay), batch, &secret, now);
        let sent_rows: Vec<u64> = plan.jobs.iter().map(|j| j.row.row).collect();
        assert_eq!(sent_rows, [1], "the inserted row is new");
        assert_eq!(plan.jobs[0].key, key_of(&inserted));
        assert_eq!(plan.settled[&2].status, Status::Done);
        assert_eq!(plan.settled[&2].card_id, Some(Uuid::from_u128(9)));
        let refused = plan.settled[&3].error.clone().unwrap();
        assert!(
            refused.starts_with("row 3, column cardholder_id: the journal has this cardholder under another key (its row 1")
                && refused.contains(&key_of(&a).to_string()),
            "{refused}"
        );
        assert_eq!(plan.orphans.len(), 1);
        assert_eq!(plan.orphans[0].key, key_of(&a));
    }

    #[test]
    fn rows_in_flight_go_first_the_oldest_first() {
        let batch = Uuid::from_u128(1);
        let secret = Secret::from_bytes([7; 32]);
        let key_of = |row: &Row| key(batch, &secret, row);
        let rows: Vec<Row> = (1..=4)
            .map(|n| {
                let mut r = row(n, &format!("409636080000002{n}"));
                r.cardholder_id = Uuid::from_u128(u128::from(n));
                r
            })
            .collect();
        let now = Utc::now();
        let sent = |r: &Row, hours: i64| Line::Sent {
            row: r.row,
            key: key_of(r),
            at: now - chrono::TimeDelta::hours(hours),
            card: uqpay_issuing::raw::pan::mask(&r.card_number),
            card_hmac: secret.card_hmac(&r.card_number),
            cardholder_id: r.cardholder_id,
            card_currency: r.card_currency.clone(),
            card_mode: r.card_mode.to_string(),
        };
        let replay = replay_with(batch, vec![sent(&rows[2], 1), sent(&rows[3], 20)]);
        let input = Input {
            header_sha256: "h".into(),
            extra_columns: Vec::new(),
            rows: rows.iter().cloned().map(Ok).collect(),
        };
        let plan = plan(&input, Some(&replay), batch, &secret, now);
        let order: Vec<u64> = plan.jobs.iter().map(|j| j.row.row).collect();
        assert_eq!(order, [4, 3, 1, 2]);
        assert!(plan.jobs[0].first_sent.is_some() && plan.jobs[2].first_sent.is_none());
    }
}
