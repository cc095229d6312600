//! `mock serve`: the simulator's flags, those of the `uqpay-mock` binary
//! ([`ServeArgs`], the simulator crate's own: same names, defaults, value
//! syntax and help).

use clap::Subcommand;
use uqpay_mock::cli::ServeArgs;

/// The simulator commands.
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// Run the simulator until interrupted. The first line on stdout is its
    /// base URL (e.g. http://127.0.0.1:8080/api), then the token and
    /// credentials it made up, if any.
    Serve(ServeArgs),
}
