//! Runs a parsed command line: resolves the settings, builds the client
//! when the command needs one, runs the command, and turns its outcome into
//! an exit code (errors printed on stderr).

use crate::cli::{self, Cli, Command, Shell};
use crate::client::{self, Tuning};
use crate::config;
use crate::exit::{self, Failure};
use crate::output::{self, Output};
use crate::{bulk, card, mock, profile, webhook};

/// Runs `cli`; the exit code.
pub async fn run(cli: Cli) -> u8 {
    match run_command(cli).await {
        Ok(code) => code,
        Err(failure) => {
            output::error(&failure.message);
            failure.code
        }
    }
}

async fn run_command(cli: Cli) -> Result<u8, Failure> {
    let out = Output::new(cli.global.output);
    match cli.command {
        Command::Card(command) => {
            let settings = config::resolve(&cli.global)?;
            let session = client::connect(&settings, Tuning::default()).await?;
            card::run(&session.client, command, out).await
        }
        Command::Bulk(command) => bulk::run(&cli.global, command, out).await,
        Command::Webhook(command) => webhook::run(command, out).await,
        Command::Mock(command) => mock::run(command).await,
        Command::Profile(command) => profile::run(command, out),
        Command::Completion { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(
                shell,
                &mut cli::command(),
                "uqpay-issuing",
                &mut std::io::stdout(),
            );
            Ok(exit::OK)
        }
    }
}
