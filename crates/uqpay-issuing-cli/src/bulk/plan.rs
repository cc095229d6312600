//! What a run does with each row: the row's idempotency key, derived from
//! the batch and the row's content alone, and the decision the journal
//! leads to (skip a row done, resend a row in flight with its key, refuse
//! a row whose content changed, leave a row too old to resend for
//! reconciliation, send a new row).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::bulk::input::{BadRow, Input, Row};
use crate::bulk::journal::{Line, Replay, State};
use crate::bulk::secret::Secret;

/// A row first sent longer ago than this is not resent: UQPay keeps a key
/// for 24 hours, and it may have expired by the time the request arrives
/// (the window, less an hour).
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

/// How a row ended (or stands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Assigned (in this run or an earlier one).
    Done,
    /// Refused: by UQPay, by validation, or as bad input.
    Failed,
    /// Sent more than [`RESEND_WITHIN`] ago with no outcome known: check
    /// the card in UQPay before doing anything with the row.
    ReconcileRequired,
    /// Still in flight: met transient errors until this run gave up on it,
    /// or was not finished when the run stopped; the next run resends it.
    Pending,
    /// Not sent: the run stopped first (Ctrl-C, --fail-fast).
    NotSent,
}

impl Status {
    /// The name in the report and the summaries.
    pub fn name(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::ReconcileRequired => "reconcile-required",
            Status::Pending => "pending",
            Status::NotSent => "not-sent",
        }
    }
}

/// The outcome of a row.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The row's number.
    pub row: u64,
    /// How it stands.
    pub status: Status,
    /// The card, when assigned.
    pub card_id: Option<Uuid>,
    /// The card order, when assigned.
    pub card_order_id: Option<String>,
    /// Why it failed (never a card number).
    pub error: Option<String>,
    /// The values of the extra columns.
    pub extra: Vec<String>,
    /// Whether an earlier run settled it.
    pub earlier: bool,
}

impl Outcome {
    /// An outcome with no card and no error.
    pub fn new(row: u64, status: Status, extra: Vec<String>) -> Self {
        Self {
            row,
            status,
            card_id: None,
            card_order_id: None,
            error: None,
            extra,
            earlier: false,
        }
    }

    /// A failure with this message.
    pub fn failed(row: u64, error: String, extra: Vec<String>) -> Self {
        Self {
            error: Some(error),
            ..Self::new(row, Status::Failed, extra)
        }
    }
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
}

/// The rows to send, and those settled without sending.
#[derive(Debug, Default)]
pub struct Plan {
    /// The rows to send, in order.
    pub jobs: Vec<Job>,
    /// The rows settled without sending, by row.
    pub settled: BTreeMap<u64, Outcome>,
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
    for (row, key) in rows {
        let extra = row.extra.clone();
        let entry = replay.and_then(|r| r.keys.get(&key));
        if let Some(entry) = entry {
            match &entry.state {
                State::Done {
                    card_id,
                    card_order_id,
                } => {
                    plan.settled.insert(
                        row.row,
                        Outcome {
                            card_id: Some(*card_id),
                            card_order_id: Some(card_order_id.clone()),
                            earlier: true,
                            ..Outcome::new(row.row, Status::Done, extra)
                        },
                    );
                    continue;
                }
                State::Failed { error } => {
                    plan.settled.insert(
                        row.row,
                        Outcome {
                            earlier: true,
                            ..Outcome::failed(row.row, error.clone(), extra)
                        },
                    );
                    continue;
                }
                State::InFlight => {
                    if entry
                        .first_sent
                        .is_some_and(|first| now.signed_duration_since(first) > RESEND_WITHIN)
                    {
                        let mut outcome = Outcome::new(row.row, Status::ReconcileRequired, extra);
                        outcome.error = Some(format!(
                            "sent at {} with key {key} and no outcome recorded; UQPay keeps a key \
                             for 24 hours, so resending could assign it twice: check the card \
                             in UQPay, then remove the row or start a new journal",
                            entry.first_sent.map(|t| t.to_rfc3339()).unwrap_or_default()
                        ));
                        plan.settled.insert(row.row, outcome);
                        continue;
                    }
                }
            }
        } else if let Some(changed) = changed(replay, &row, secret, &keys) {
            plan.settled.insert(
                row.row,
                Outcome::failed(
                    row.row,
                    format!(
                        "row {}, column {changed}: changed since the journal recorded it as sent \
                         (the first request may have been applied): restore the row, or put \
                         the change in a new file with a new journal",
                        row.row
                    ),
                    extra,
                ),
            );
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
        plan.jobs.push(Job {
            row,
            key,
            sent,
            requeues: 0,
        });
    }
    plan
}

/// The columns of `row` that differ from what the journal recorded as sent
/// for its row number under another key still in flight or done (a key
/// that failed for good may be corrected; a key still in the file is that
/// row moved, not changed).
fn changed(
    replay: Option<&Replay>,
    row: &Row,
    secret: &Secret,
    keys: &HashSet<Uuid>,
) -> Option<String> {
    let replay = replay?;
    let old_key = replay.rows.get(&row.row)?;
    if keys.contains(old_key) {
        return None;
    }
    let entry = replay.keys.get(old_key)?;
    if matches!(entry.state, State::Failed { .. }) {
        return None;
    }
    let Some(Line::Sent {
        card_hmac,
        cardholder_id,
        card_currency,
        card_mode,
        ..
    }) = &entry.sent
    else {
        return Some("(any)".into());
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
                Ok(row(5, "4096360800133955")),
            ],
        };
        let plan = plan(&input, Some(&replay), batch, &secret, now);
        assert_eq!(plan.settled[&1].status, Status::Done);
        assert_eq!(plan.settled[&3].status, Status::ReconcileRequired);
        let refused = plan.settled[&4].error.clone().unwrap();
        assert!(
            refused.starts_with("row 4, column card_currency: changed"),
            "{refused}"
        );
        let sent_rows: Vec<u64> = plan.jobs.iter().map(|j| j.row.row).collect();
        assert_eq!(sent_rows, [2, 5]);
        assert_eq!(plan.jobs[0].key, key_of(&rows[1]));
    }
}
