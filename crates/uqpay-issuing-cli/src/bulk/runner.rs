//! Sends the rows of a run: at most `--concurrency` calls in flight, paced
//! by the SDK's rate limiter; each row journaled (on disk) before it is
//! sent and after its outcome. A row that meets a transient error after
//! the SDK's own retries is queued again, with the same key, behind a
//! delay (so a batch on a flaky network completes); a permanent refusal
//! fails the row alone (or stops the run with `--fail-fast`); a refused
//! token or credentials stop the run. An answer of 2xx is an assignment
//! done at UQPay whatever its body: one that cannot be read leaves the row
//! reconcile-required (journaled so, never resent). A row whose key was
//! first sent longer ago than [`RESEND_WITHIN`](crate::bulk::plan::RESEND_WITHIN)
//! is not sent when its turn comes (reconcile-required). Ctrl-C stops
//! dispatching, lets the calls in flight finish, and the run ends as
//! interrupted.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uqpay_issuing::{AssignCardResponse, Client, Error};

use crate::bulk::journal::{Line, Reconcile, Writer};
use crate::bulk::outcome::{Outcome, Status};
use crate::bulk::plan::{self, Job};
use crate::bulk::progress::Progress;
use crate::cli::call::{call_options, CallArgs};
use crate::exit::{self, Failure};

/// How a run goes.
#[derive(Clone, Debug)]
pub struct Options {
    /// Calls in flight at most.
    pub concurrency: usize,
    /// Stop at the first permanent failure.
    pub fail_fast: bool,
    /// How many times a row may be queued again in this run.
    pub max_requeues: u32,
    /// The per-call options.
    pub call: CallArgs,
}

/// How the run ended.
#[derive(Debug, Default)]
pub struct Ended {
    /// The outcome of every job.
    pub outcomes: Vec<Outcome>,
    /// Ctrl-C stopped it.
    pub interrupted: bool,
    /// An error that concerns every row stopped it (refused credentials, a
    /// journal that cannot be written).
    pub aborted: Option<Failure>,
    /// Calls sent (a row queued again counts once per send).
    pub sent: usize,
}

type Finished = (Job, Result<Result<AssignCardResponse, Error>, Failure>);

/// Sends `jobs`.
pub async fn run(
    client: &Client,
    journal: Arc<Writer>,
    jobs: Vec<Job>,
    options: &Options,
    progress: &mut Progress,
) -> Ended {
    let mut fresh: VecDeque<Job> = jobs.into();
    // Queued again: (not before, job), in the order they were queued.
    let mut delayed: VecDeque<(Instant, Job)> = VecDeque::new();
    let mut in_flight: JoinSet<Finished> = JoinSet::new();
    let mut ended = Ended::default();
    let mut stopping = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    loop {
        while !stopping && in_flight.len() < options.concurrency {
            let job = match delayed.front() {
                Some((at, _)) if *at <= Instant::now() => delayed.pop_front().map(|(_, j)| j),
                _ => fresh.pop_front(),
            };
            let Some(mut job) = job else { break };
            let now = Utc::now();
            if plan::too_old(job.first_sent, now) {
                // Its turn came too late: UQPay may have forgotten its key.
                let message = format!(
                    "row {}: not sent: {}",
                    job.row.row,
                    plan::too_old_message(job.key, job.first_sent)
                );
                progress.println(&message);
                progress.failed();
                ended.outcomes.push(Outcome::reconcile(
                    job.row.row,
                    message,
                    job.row.extra.clone(),
                ));
                continue;
            }
            match validate(client, &job) {
                Ok(()) => {
                    job.first_sent.get_or_insert(now);
                    ended.sent += 1;
                    in_flight.spawn(send(
                        client.clone(),
                        journal.clone(),
                        job,
                        options.call.clone(),
                    ));
                }
                Err(message) => {
                    progress.println(&message);
                    progress.failed();
                    ended.outcomes.push(Outcome::failed(
                        job.row.row,
                        message,
                        job.row.extra.clone(),
                    ));
                }
            }
        }
        let next_delayed = delayed.front().map(|(at, _)| *at);
        if in_flight.is_empty() && (stopping || (fresh.is_empty() && next_delayed.is_none())) {
            break;
        }
        let can_dispatch = !stopping && in_flight.len() < options.concurrency;
        tokio::select! {
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                let (job, result) = match joined {
                    Ok(finished) => finished,
                    Err(e) => {
                        ended.aborted = Some(Failure::internal(format!("a call panicked: {e}")));
                        stopping = true;
                        continue;
                    }
                };
                settle(job, result, &journal, options, progress, &mut delayed, &mut ended, &mut stopping).await;
            }
            _ = &mut ctrl_c, if !ended.interrupted => {
                ended.interrupted = true;
                stopping = true;
                progress.println(&format!(
                    "interrupted: no new rows; waiting for the {} call(s) in flight (Ctrl-C again to quit at once: the journal is on disk)",
                    in_flight.len()
                ));
                tokio::spawn(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(i32::from(exit::INTERRUPTED));
                    }
                });
            }
            _ = tokio::time::sleep_until(next_delayed.unwrap_or_else(Instant::now)), if can_dispatch && next_delayed.is_some() => {}
            else => break,
        }
    }
    for job in fresh.into_iter().chain(delayed.into_iter().map(|(_, j)| j)) {
        let status = if job.requeues > 0 {
            Status::Pending
        } else {
            Status::NotSent
        };
        ended
            .outcomes
            .push(Outcome::new(job.row.row, status, job.row.extra.clone()));
    }
    ended
}

/// The SDK's validation of the row's body (number, currency): a bad row
/// is never sent.
fn validate(client: &Client, job: &Job) -> Result<(), String> {
    let request = client
        .assign_card()
        .cardholder_id(job.row.cardholder_id)
        .card_number(job.row.card_number.clone())
        .card_currency(job.row.card_currency.clone())
        .card_mode(job.row.card_mode);
    match request.body() {
        Ok(_) => Ok(()),
        Err(Error::Validation { field, reason }) => {
            Err(format!("row {}, column {field}: {reason}", job.row.row))
        }
        Err(other) => Err(format!("row {}: {other}", job.row.row)),
    }
}

async fn send(client: Client, journal: Arc<Writer>, job: Job, call: CallArgs) -> Finished {
    let mut line = job.sent.clone();
    if let Line::Sent { at, .. } = &mut line {
        *at = Utc::now();
    }
    if let Err(failure) = journal.append(&line).await {
        return (job, Err(failure));
    }
    let request = client
        .assign_card()
        .cardholder_id(job.row.cardholder_id)
        .card_number(job.row.card_number.clone())
        .card_currency(job.row.card_currency.clone())
        .card_mode(job.row.card_mode)
        .idempotency_key(job.key);
    let result = call_options!(request, &call).send().await;
    (job, Ok(result))
}

/// The delay before a row is sent again after its `n`th requeue: 1 s
/// doubling to 30 s, or what the answer's Retry-After asked if longer.
fn requeue_delay(n: u32, error: &Error) -> Duration {
    let backoff =
        Duration::from_secs(1u64 << n.saturating_sub(1).min(5)).min(Duration::from_secs(30));
    error
        .retry_after()
        .map_or(backoff, |asked| asked.max(backoff))
}

#[allow(clippy::too_many_arguments)]
async fn settle(
    mut job: Job,
    result: Result<Result<AssignCardResponse, Error>, Failure>,
    journal: &Writer,
    options: &Options,
    progress: &mut Progress,
    delayed: &mut VecDeque<(Instant, Job)>,
    ended: &mut Ended,
    stopping: &mut bool,
) {
    let (row, key) = (job.row.row, job.key);
    let result = match result {
        Ok(result) => result,
        Err(failure) => {
            // The journal cannot be written: nothing more may be sent.
            ended.aborted = Some(failure);
            *stopping = true;
            ended
                .outcomes
                .push(Outcome::new(row, Status::NotSent, job.row.extra.clone()));
            return;
        }
    };
    let answered = match &result {
        Err(error) if exit::answered(error) => Some(answered_message(key, error)),
        _ => None,
    };
    let line = match &result {
        Ok(answer) => Line::Done {
            row,
            key,
            at: Utc::now(),
            card_id: answer.card_id,
            card_order_id: answer.card_order_id.clone(),
        },
        Err(error) if answered.is_some() => Line::Reconcile {
            row,
            key,
            at: Utc::now(),
            reason: Reconcile::Answered,
            error: answered.clone().map(|(m, _)| m).unwrap_or_default(),
            card_id: card_id_in(error),
        },
        Err(error) if error.is_retryable() || stops_the_run(error) => Line::Retry {
            row,
            key,
            at: Utc::now(),
            error: error.to_string(),
        },
        Err(error) => Line::Failed {
            row,
            key,
            at: Utc::now(),
            error: error.to_string(),
        },
    };
    if let Err(failure) = journal.append(&line).await {
        ended.aborted = Some(failure);
        *stopping = true;
    }
    if let (Some((message, card_id)), Err(_)) = (answered, &result) {
        let message = format!("row {row}: {message}");
        progress.println(&message);
        progress.failed();
        ended.outcomes.push(Outcome {
            card_id,
            ..Outcome::reconcile(row, message, job.row.extra.clone())
        });
        return;
    }
    match result {
        Ok(answer) => {
            progress.done();
            ended.outcomes.push(Outcome {
                card_id: Some(answer.card_id),
                card_order_id: Some(answer.card_order_id),
                ..Outcome::new(row, Status::Done, job.row.extra.clone())
            });
        }
        Err(error) if stops_the_run(&error) => {
            progress.println(&format!("row {row}: {error}: stopping"));
            if ended.aborted.is_none() {
                ended.aborted = Some(Failure::read(&error));
            }
            *stopping = true;
            ended.outcomes.push(Outcome {
                error: Some(error.to_string()),
                ..Outcome::new(row, Status::Pending, job.row.extra.clone())
            });
        }
        Err(error) if error.is_retryable() => {
            job.requeues += 1;
            if job.requeues > options.max_requeues || *stopping {
                progress.failed();
                ended.outcomes.push(Outcome {
                    error: Some(error.to_string()),
                    ..Outcome::new(row, Status::Pending, job.row.extra.clone())
                });
            } else {
                let at = Instant::now() + requeue_delay(job.requeues, &error);
                delayed.push_back((at, job));
                delayed.make_contiguous().sort_by_key(|(at, _)| *at);
            }
        }
        Err(error) => {
            let message = format!("row {row}: {error}");
            progress.println(&message);
            progress.failed();
            ended
                .outcomes
                .push(Outcome::failed(row, message, job.row.extra.clone()));
            if options.fail_fast {
                *stopping = true;
            }
        }
    }
}

/// An error that every other row would meet as well: the credentials or
/// the token refused, the configuration wrong. (The token store's errors
/// are transient: their rows are queued again.)
fn stops_the_run(error: &Error) -> bool {
    !error.is_retryable()
        && (error.is_unauthorized()
            || error.is_forbidden()
            || matches!(error.last(), Error::Config(_)))
}

/// What to tell of a row UQPay answered 2xx with a body that could not be
/// read: its key, and the card if the (redacted) body names it.
fn answered_message(key: uuid::Uuid, error: &Error) -> (String, Option<uuid::Uuid>) {
    let card_id = card_id_in(error);
    let card = card_id
        .map(|c| format!(" (card_id {c})"))
        .unwrap_or_default();
    let message = format!(
        "reconcile required: UQPay answered HTTP {} to key {key}: the card is \
         assigned at UQPay{card}, but the answer could not be read ({error}). Not resent; \
         check the card in UQPay, and do not assign the cardholder another card for this row",
        error.status().unwrap_or_default()
    );
    (message, card_id)
}

/// The `card_id` an answer that could not be decoded names, if its body
/// (kept redacted, and cut to 2 KiB, in the error) shows one.
fn card_id_in(error: &Error) -> Option<uuid::Uuid> {
    let Error::Decode { body, .. } = error.last() else {
        return None;
    };
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(id) = value.get("card_id").and_then(|v| v.as_str()) {
            return id.parse().ok();
        }
    }
    // A body cut short: the first `"card_id": "<uuid>"` in it.
    let after = &body[body.find("\"card_id\"")? + "\"card_id\"".len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    let after = after.strip_prefix('"')?;
    after.get(..36)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_of_an_answer_that_does_not_decode() {
        let card = uuid::Uuid::from_u128(42);
        let decode = |body: String| Error::Decode {
            status: 200,
            message: "missing field".into(),
            body,
            attempts: 1,
            idempotency_key: None,
        };
        let whole = format!("{{\"card_id\":\"{card}\",\"card_status\":\"ACTIVE\"}}");
        assert_eq!(card_id_in(&decode(whole)), Some(card));
        let cut = format!("{{\"card_status\":\"ACTIVE\", \"card_id\" : \"{card}\", \"crea");
        assert_eq!(card_id_in(&decode(cut)), Some(card));
        assert_eq!(card_id_in(&decode("<html>".into())), None);
        assert_eq!(card_id_in(&Error::Config("x".into())), None);
        let (message, found) = answered_message(card, &decode("{}".into()));
        assert_eq!(found, None);
        assert!(message.starts_with("reconcile required: UQPay answered HTTP 200 to key"));
    }

    #[test]
    fn requeue_delays_double_to_30_seconds() {
        let error = Error::Config("x".into());
        assert_eq!(requeue_delay(1, &error), Duration::from_secs(1));
        assert_eq!(requeue_delay(3, &error), Duration::from_secs(4));
        assert_eq!(requeue_delay(40, &error), Duration::from_secs(30));
    }
}
