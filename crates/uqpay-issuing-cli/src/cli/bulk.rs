//! `bulk ...`: the arguments of the bulk commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::call::{parse_duration, CallArgs};

/// The bulk commands.
#[derive(Debug, Subcommand)]
pub enum BulkCommand {
    /// Assign the cards of a CSV file (header
    /// `cardholder_id,card_number,card_currency,card_mode`, other columns
    /// kept in the report), resumably: every row is journaled before it is
    /// sent, and a rerun with the same journal skips the rows done and
    /// resends the rows in flight with the same idempotency key.
    Assign(AssignArgs),
    /// Summarise a journal.
    Status {
        /// The journal of the batch.
        #[arg(long, value_name = "FILE")]
        journal: PathBuf,
    },
}

/// `bulk assign`.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The CSV file.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// The journal (append-only, one JSON object per line): created at the
    /// first run, given again to resume.
    #[arg(long, value_name = "FILE")]
    pub journal: PathBuf,
    /// Write one CSV line per row here: row, card_id, card_order_id,
    /// status, error (and the input's extra columns).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The pace, N/WINDOW (e.g. 300/1m, 6000/60s, 5/1s), kept without 429s
    /// (default: the environment's documented limit: production 300/1m,
    /// sandbox 500/1m; none for mock or a --base-url).
    #[arg(long, value_name = "N/WINDOW", value_parser = parse_rate)]
    pub rate_limit: Option<(u32, std::time::Duration)>,
    /// How many calls may be in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Stop dispatching at the first row that fails for good.
    #[arg(long)]
    pub fail_fast: bool,
    /// How many times a row that meets a transient error (network, 5xx, 429,
    /// "request is processing") after the SDK's own retries is queued again
    /// in this run before it is left for the next one.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_requeues: u32,
    #[command(flatten)]
    pub call: CallArgs,
}

/// `N/WINDOW`: `300/1m`, `6000/60s`, `5/1s`, `100/250ms`, or `N/s`, `N/min`.
pub fn parse_rate(text: &str) -> Result<(u32, std::time::Duration), String> {
    let (count, window) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?}: expected N/WINDOW, e.g. 300/1m or 6000/60s"))?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?}: N must be a whole number above 0"))?;
    let window = window.trim();
    let window = match window {
        "s" | "sec" => "1s",
        "m" | "min" => "1m",
        "h" => "1h",
        other => other,
    };
    let window = parse_duration(window)?;
    if window.is_zero() {
        return Err(format!("{text:?}: the window must be longer than 0"));
    }
    Ok((count, window))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("6000/60s"), Ok((6000, Duration::from_secs(60))));
        assert_eq!(parse_rate("300/min"), Ok((300, Duration::from_secs(60))));
        assert_eq!(parse_rate("5/1s"), Ok((5, Duration::from_secs(1))));
        assert!(parse_rate("0/1s").is_err());
        assert!(parse_rate("10").is_err());
        assert!(parse_rate("10/0s").is_err());
    }
}
