//! The clap command tree: global options ([`Global`]), and one module per
//! command family with its arguments.

pub mod bulk;
pub mod call;
pub mod card;
pub mod global;
pub mod mock;
pub mod profile;
pub mod webhook;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

use crate::cli::global::Global;

/// What `--help` says about credentials and the token store.
const ABOUT: &str = "\
The operator command line of UQPay's card-issuing API.

Credentials come from the environment, never from a flag: UQPAY_CLIENT_ID
and UQPAY_API_KEY (or UQPAY_API_KEY_FILE, a file holding the key), or
UQPAY_API_TOKEN (a token minted elsewhere); otherwise from a profile
(--profile NAME, `uqpay-issuing profile set`).

UQPay voids every earlier token of a client id when a new one is minted. An
operator using production's client id must therefore join the fleet's shared
token with --token-store redis://... (the services' RedisTokenStore):
a CLI minting its own token would log the whole production fleet out.";

/// The operator command line of UQPay's card-issuing API.
#[derive(Debug, Parser)]
#[command(name = "uqpay-issuing", version, about, long_about = ABOUT)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read and change cards.
    #[command(subcommand)]
    Card(card::CardCommand),
    /// Assign many cards from a CSV file, resumably.
    #[command(subcommand)]
    Bulk(bulk::BulkCommand),
    /// Receive and verify UQPay's webhooks.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// The simulator of UQPay's API.
    #[command(subcommand)]
    Mock(mock::MockCommand),
    /// Manage the profiles of the config file.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Print a shell completion script.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// The shells completions are made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// The whole command tree (for parsing, completions and the tests), with
/// the values the spec's enums accept written into the help of the flags
/// whose values are compound (`--spending-control AMOUNT:INTERVAL`).
pub fn command() -> clap::Command {
    let intervals = crate::enums::listed::<uqpay_issuing::SpendingInterval>();
    Cli::command().mut_subcommand("card", |card| {
        card.mut_subcommand("update", |update| {
            update.mut_arg("spending_controls", |arg| {
                arg.help(format!(
                    "A spending control, AMOUNT:INTERVAL (repeatable; the controls given \
                     replace the card's); INTERVAL: {intervals}"
                ))
            })
        })
    })
}

/// Parses the command line (exits with clap's usage error, code 2, on a
/// bad one).
pub fn parse() -> Cli {
    use clap::FromArgMatches as _;
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_is_consistent() {
        command().debug_assert();
    }
}
