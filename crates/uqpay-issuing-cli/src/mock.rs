//! `mock serve`: the simulator the flags describe ([`ServeArgs::configure`]),
//! its base URL and made-up credentials printed as `uqpay-mock` prints them,
//! run until Ctrl-C (exit 130, as `webhook listen` ends).

use std::io::Write as _;

use uqpay_mock::cli::{Configured, ServeArgs};

use crate::cli::mock::MockCommand;
use crate::exit::{self, Failure};

/// Runs a mock command; the exit code.
pub async fn run(command: MockCommand) -> Result<u8, Failure> {
    match command {
        MockCommand::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> Result<u8, Failure> {
    let Configured { builder, made_up } = args.configure().map_err(|e| {
        Failure::usage(format!(
            "--faults: {e} (see `uqpay-issuing mock serve --help`)"
        ))
    })?;
    let server = builder
        .start()
        .await
        .map_err(|e| Failure::usage(format!("cannot start the simulator on {}: {e}", args.addr)))?;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(made_up.banner(&server.base_url()).as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::internal(format!("cannot wait for Ctrl-C: {e}")))?;
    server.shutdown();
    Ok(exit::INTERRUPTED)
}
