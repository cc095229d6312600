//! `uqpay-mock`: the simulator as a standalone server.
//!
//! ```sh
//! cargo run -p uqpay-mock -- --addr 127.0.0.1:8080 --token T --client-id C --api-key K
//! ```
//!
//! The first line of standard output is the base URL (e.g.
//! `http://127.0.0.1:8080/api`); the server runs until killed. The flags
//! are the library's [`uqpay_mock::cli::ServeArgs`].

use clap::Parser;
use uqpay_mock::cli::{Configured, ServeArgs};

/// A stateful simulator of UQPay's card-issuing API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let Configured { builder, made_up } = args.serve.configure()?;
    let server = builder.start().await?;
    print!("{}", made_up.banner(&server.base_url()));
    tokio::signal::ctrl_c().await?;
    Ok(())
}
