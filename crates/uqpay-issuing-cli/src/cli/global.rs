//! [`Global`]: the options every command takes, and the environments
//! (`--env`).

use clap::{Args, ValueEnum};

use crate::output::Format;

/// The environments `--env` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Env {
    /// UQPay's sandbox (https://api-sandbox.uqpaytech.com/api); 500 card calls a minute.
    Sandbox,
    /// UQPay's production (https://api.uqpay.com/api); 300 card calls a minute.
    Production,
    /// The simulator, started inside this process (gone when the command ends).
    Mock,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The environment [env: UQPAY_ENV] (default: the profile's, else sandbox).
    #[arg(long, global = true, value_enum)]
    pub env: Option<Env>,
    /// Another base URL, e.g. a simulator's http://127.0.0.1:PORT/api [env: UQPAY_BASE_URL].
    #[arg(long, global = true, value_name = "URL", conflicts_with = "env")]
    pub base_url: Option<String>,
    /// A profile of the config file (see `profile set`) [env: UQPAY_PROFILE].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Share the fleet's token (and rate limit) through Redis: redis://HOST:PORT,
    /// or rediss://HOST:PORT for TLS; several URLs (comma-separated or repeated)
    /// are the seeds of a Redis Cluster. Needed with production's client id: UQPay
    /// voids every earlier token of a client id when a new one is minted, so a CLI
    /// minting its own would log the production fleet out [env: UQPAY_TOKEN_STORE].
    /// Never a password in the URL (refused): give it in UQPAY_TOKEN_STORE_PASSWORD,
    /// or in a file named by UQPAY_TOKEN_STORE_PASSWORD_FILE (an ACL user stays in
    /// the URL: redis://USER@HOST:PORT).
    #[arg(long, global = true, value_name = "URL", value_delimiter = ',')]
    pub token_store: Vec<String>,
    /// Treat a single --token-store URL as a seed of a Redis Cluster.
    #[arg(long, global = true)]
    pub token_store_cluster: bool,
    /// The output format (default: table on a terminal, JSON otherwise).
    #[arg(short = 'o', long, global = true, value_enum)]
    pub output: Option<Format>,
}
