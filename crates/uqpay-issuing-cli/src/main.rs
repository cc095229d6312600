//! `uqpay-issuing`: the operator command line of UQPay's card-issuing API,
//! built on the `uqpay-issuing` SDK (validation, retries, idempotency keys,
//! the token store and rate limits all come from it).
//!
//! ```sh
//! export UQPAY_CLIENT_ID=... UQPAY_API_KEY_FILE=/run/secrets/uqpay
//! uqpay-issuing --env sandbox card get 6f33bffb-63b3-412e-9fc8-3e4c33f265bf
//! uqpay-issuing --env production --token-store redis://redis:6379 \
//!     bulk assign cards.csv --journal cards.journal --report cards.report.csv
//! ```
//!
//! The guide is `docs/cli.md` in the repository: every command, the bulk
//! workflow (a crash and a resume), the journal's format and the exit codes
//! (0 ok, 1 API error, 2 usage or configuration, 3 network, 4 internal,
//! 5 reconcile required, 6 bulk rows failed, 130 interrupted).

// The doc comments of the command tree are its `--help` text too: URLs in
// them stay bare there (clap prints `<...>` as written).
#![allow(rustdoc::bare_urls)]

// Layer order (`cargo xtask layers` checks it): each module uses only the
// modules listed below it; none uses the root's re-exports.
//
//   dispatch    runs a parsed command line: the settings, the command, the exit code
//   card        card get / assign / status / freeze / unfreeze / cancel / update
//   bulk        bulk assign (CSV rows, journal, keys, pacing, requeues, report) and bulk status
//   webhook     webhook listen (verify, deduplicate, print, forward) and webhook verify
//   mock        mock serve: runs the simulator its flags (uqpay_mock::cli) describe
//   profile     profile set / list / show
//   client      the SDK client of a run: target, credentials, token store, rate limit
//   config      the settings from flags, the environment and the profiles' config file
//   coverage    (tests only) every operation of the spec and the command that covers it
//   cli         the clap command tree
//   output      tables / JSON / NDJSON on stdout, messages on stderr, colour, masking
//   enums       the values the spec's enums accept, from the generated types
//   exit        exit codes and the failure that carries one
//   redis_url   the token store's URLs: user-info masked wherever shown, the password put in
//

mod bulk;
mod card;
mod cli;
mod client;
mod config;
#[cfg(test)]
mod coverage;
mod dispatch;
mod enums;
mod exit;
mod mock;
mod output;
mod profile;
mod redis_url;
mod webhook;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            output::error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let code = runtime.block_on(dispatch::run(cli));
    // Calls still running in the background (a token renewal) are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(code)
}
