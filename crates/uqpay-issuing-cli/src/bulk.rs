//! `bulk assign` and `bulk status`: a CSV file of cards to assign, sent
//! resumably. The family: [`input`] (the CSV and its rows), [`journal`]
//! (the append-only record of what was sent), [`lock`] (one run at a time
//! on a journal), [`secret`] (the batch's secret, beside the journal,
//! keying the card numbers' HMACs and the rows' keys), [`plan`] (the rows'
//! keys and what the journal says to do with each), [`outcome`] (how each
//! row stands), [`runner`] (sending, pacing, requeueing, Ctrl-C),
//! [`progress`] (the bar) and [`report`] (the CSV report). This module runs
//! them in order.

pub mod input;
pub mod journal;
pub mod lock;
pub mod outcome;
pub mod plan;
pub mod progress;
pub mod report;
pub mod runner;
pub mod secret;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde_json::json;
use uqpay_issuing::RateLimit;
use uuid::Uuid;

use crate::bulk::journal::{Line, Reconcile, State, Writer};
use crate::bulk::outcome::{Outcome, Status};
use crate::bulk::plan::too_old;
use crate::bulk::progress::Progress;
use crate::bulk::secret::Secret;
use crate::cli::bulk::{AssignArgs, BulkCommand};
use crate::cli::global::Global;
use crate::client::{self, Tuning};
use crate::config::{self, Settings};
use crate::exit::{self, Failure};
use crate::output::{self, Output};

/// Runs a bulk command; the exit code.
pub async fn run(global: &Global, command: BulkCommand, out: Output) -> Result<u8, Failure> {
    match command {
        BulkCommand::Assign(args) => {
            let settings = config::resolve(global)?;
            assign(&settings, args, out).await
        }
        BulkCommand::Status { journal } => status(&journal, out),
    }
}

/// Refuses to resume a journal with another file, target or account.
fn check_binding(
    batch: &Line,
    header_sha256: &str,
    target: &str,
    on_behalf_of: Option<&str>,
    path: &Path,
) -> Result<(), Failure> {
    let Line::Batch {
        header_sha256: journaled_header,
        target: journaled_target,
        on_behalf_of: journaled_account,
        ..
    } = batch
    else {
        return Err(Failure::usage(format!(
            "{} has no batch line",
            path.display()
        )));
    };
    if journaled_header != header_sha256 {
        return Err(Failure::usage(format!(
            "the journal {} belongs to a CSV file with another header: use the same file, or a new journal",
            path.display()
        )));
    }
    if journaled_target != target {
        return Err(Failure::usage(format!(
            "the journal {} was made against {journaled_target}, this run goes to {target}: \
             its keys mean nothing there; use a new journal",
            path.display()
        )));
    }
    if journaled_account.as_deref() != on_behalf_of {
        return Err(Failure::usage(format!(
            "the journal {} was made on behalf of {:?}, this run acts for {:?}: use the same \
             --on-behalf-of, or a new journal",
            path.display(),
            journaled_account,
            on_behalf_of
        )));
    }
    Ok(())
}

async fn assign(settings: &Settings, args: AssignArgs, out: Output) -> Result<u8, Failure> {
    if let Some(report) = &args.report {
        report::check_path(report, &args.journal)?;
    }
    let input = input::read(&args.file)?;
    // Held to the end of the run: no other run reads or writes the journal
    // meanwhile.
    let _lock = lock::acquire(&args.journal)?;
    let replay = journal::read(&args.journal)?;
    let target = settings.target.name();
    let on_behalf_of = args
        .call
        .on_behalf_of
        .clone()
        .or_else(|| settings.on_behalf_of.clone());
    if let Some(replay) = &replay {
        check_binding(
            &replay.batch,
            &input.header_sha256,
            &target,
            on_behalf_of.as_deref(),
            &args.journal,
        )?;
        if replay.unreadable > 0 {
            output::warn(&format!(
                "{} line(s) of the journal could not be read (a crash mid-write): ignored; \
                 their rows are resent with the same keys",
                replay.unreadable
            ));
        }
    }
    // A batch being resumed needs its secret (its rows' keys derive from
    // it): refused before anything is sent when it is missing.
    let resumed = match &replay {
        Some(replay) => {
            let secret = Secret::load(&args.journal)?;
            if let Line::Batch {
                secret_fingerprint, ..
            } = &replay.batch
            {
                secret.check(&args.journal, secret_fingerprint.as_deref())?;
            }
            Some((replay.batch_id, secret))
        }
        None => None,
    };
    let limit = args
        .rate_limit
        .map(|(n, window)| RateLimit::new(n, window))
        .or_else(|| client::documented_limit(&settings.target));
    let session = client::connect(
        settings,
        Tuning {
            rate_limit: limit,
            smooth: true,
            no_retry_budget: true,
        },
    )
    .await?;
    if session.fleet {
        output::message("token and rate limit shared with the fleet through the token store");
    }

    let writer = Writer::open(&args.journal)?;
    let (batch, secret) = match resumed {
        Some(resumed) => resumed,
        None => {
            let batch = Uuid::new_v4();
            // On disk before the batch line: a journal never has a batch
            // without its secret. One left by a first run that stopped
            // before its batch line (nothing was sent) is reused.
            let (secret, reused) = Secret::create(&args.journal)?;
            if reused {
                output::message(&format!(
                    "{} has no batch yet: the batch secret beside it, left by a run that \
                     stopped before it began the batch, is reused",
                    args.journal.display()
                ));
            }
            writer
                .append(&Line::Batch {
                    batch,
                    header_sha256: input.header_sha256.clone(),
                    target: target.clone(),
                    on_behalf_of: on_behalf_of.clone(),
                    version: journal::VERSION,
                    at: Utc::now(),
                    secret_fingerprint: Some(secret.fingerprint()),
                })
                .await?;
            (batch, secret)
        }
    };
    let plan = plan::plan(&input, replay.as_ref(), batch, &secret, Utc::now());
    let earlier_done = plan
        .settled
        .values()
        .filter(|o| o.earlier && o.status == Status::Done)
        .count();
    for outcome in plan.settled.values() {
        if !outcome.earlier {
            if let Some(error) = &outcome.error {
                output::message(error);
            }
        }
    }
    if earlier_done > 0 {
        output::message(&format!(
            "{earlier_done} row(s) done in an earlier run: skipped"
        ));
    }
    for outcome in plan.settled.values() {
        if outcome.earlier && outcome.status == Status::ReconcileRequired {
            if let Some(error) = &outcome.error {
                output::message(error);
            }
        }
    }
    // The keys in flight that no row has any more: journaled as such (so
    // `bulk status` tells them), reported, never dropped.
    for orphan in &plan.orphans {
        output::message(orphan.outcome.error.as_deref().unwrap_or_default());
        if orphan.in_flight {
            writer
                .append(&Line::Reconcile {
                    row: orphan.row,
                    key: orphan.key,
                    at: Utc::now(),
                    reason: Reconcile::NotInCsv,
                    error: "in flight, and no row of the CSV has its content any more".into(),
                    card_id: None,
                })
                .await?;
        }
    }

    let writer = Arc::new(writer);
    let mut progress = Progress::new(plan.jobs.len() as u64);
    let started = Instant::now();
    let options = runner::Options {
        concurrency: args.concurrency as usize,
        fail_fast: args.fail_fast,
        max_requeues: args.max_requeues,
        call: args.call.clone(),
    };
    let ended = runner::run(
        &session.client,
        writer.clone(),
        plan.jobs,
        &options,
        &mut progress,
    )
    .await;
    progress.finish();
    let sent = ended.sent;
    let elapsed = started.elapsed();
    let stats = &writer.stats;
    let (lines, syncs, busy) = (
        stats.lines.load(Ordering::Relaxed),
        stats.syncs.load(Ordering::Relaxed),
        stats.busy_nanos.load(Ordering::Relaxed),
    );
    if let Ok(writer) = Arc::try_unwrap(writer) {
        writer.close();
    }

    let mut outcomes: BTreeMap<u64, Outcome> = plan.settled;
    for outcome in ended.outcomes {
        outcomes.insert(outcome.row.unwrap_or_default(), outcome);
    }
    let rows = outcomes.len();
    let outcomes: Vec<Outcome> = outcomes
        .into_values()
        .chain(plan.orphans.into_iter().map(|o| o.outcome))
        .collect();
    if let Some(path) = &args.report {
        report::write(path, &input.extra_columns, &outcomes)?;
    }
    let count = |status: Status| outcomes.iter().filter(|o| o.status == status).count();
    let (done, failed, reconcile, pending, not_sent) = (
        count(Status::Done),
        count(Status::Failed),
        count(Status::ReconcileRequired),
        count(Status::Pending),
        count(Status::NotSent),
    );
    let per_row_us = if sent > 0 {
        busy as f64 / 1000.0 / sent as f64
    } else {
        0.0
    };
    out.record(&json!({
        "batch": batch,
        "rows": rows,
        "not_in_csv": outcomes.len() - rows,
        "done": done,
        "done_earlier": earlier_done,
        "failed": failed,
        "reconcile_required": reconcile,
        "pending": pending,
        "not_sent": not_sent,
        "calls_sent": sent,
        "interrupted": ended.interrupted,
        "elapsed_seconds": elapsed.as_secs_f64(),
        "journal": {
            "lines": lines,
            "fsyncs": syncs,
            "write_seconds": busy as f64 / 1e9,
            "write_microseconds_per_row": per_row_us,
        },
    }));
    output::message(&format!(
        "{rows} row(s): {done} done ({earlier_done} earlier), {failed} failed, {reconcile} reconcile-required{}, \
         {pending} pending, {not_sent} not sent; {:.1} s; journal {lines} line(s), {syncs} fsync(s), \
         {per_row_us:.0} µs of journal writes per call sent",
        match outcomes.len() - rows {
            0 => String::new(),
            n => format!(" ({n} of them key(s) no row has any more)"),
        },
        elapsed.as_secs_f64()
    ));
    if let Some(failure) = ended.aborted {
        return Err(failure);
    }
    Ok(if ended.interrupted {
        exit::INTERRUPTED
    } else if reconcile > 0 {
        exit::RECONCILE
    } else if failed + pending + not_sent > 0 {
        exit::BULK_FAILED
    } else {
        exit::OK
    })
}

/// `bulk status`: what a journal says.
fn status(path: &Path, out: Output) -> Result<u8, Failure> {
    let replay = journal::read(path)?.ok_or_else(|| {
        Failure::usage(format!(
            "{} is not a journal (absent or empty)",
            path.display()
        ))
    })?;
    let Line::Batch {
        batch,
        target,
        at,
        on_behalf_of,
        ..
    } = &replay.batch
    else {
        return Err(Failure::usage("no batch line"));
    };
    let now = Utc::now();
    let (mut done, mut failed, mut in_flight, mut reconcile) = (0, 0, 0, 0);
    for entry in replay.keys.values() {
        match &entry.state {
            State::Done { .. } => done += 1,
            State::Failed { .. } => failed += 1,
            State::Reconcile { .. } => reconcile += 1,
            State::InFlight if too_old(entry.first_sent, now) => reconcile += 1,
            State::InFlight => in_flight += 1,
        }
    }
    out.record(&json!({
        "batch": batch,
        "created": at.to_rfc3339(),
        "target": target,
        "on_behalf_of": on_behalf_of,
        "rows_journaled": replay.keys.len(),
        "done": done,
        "failed": failed,
        "in_flight": in_flight,
        "reconcile_required": reconcile,
        "lines": replay.lines,
        "unreadable_lines": replay.unreadable,
    }));
    Ok(if reconcile > 0 {
        exit::RECONCILE
    } else {
        exit::OK
    })
}
