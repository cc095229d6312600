//! `profile ...`: the arguments of the profile commands. No flag takes a
//! secret: the API key is read from stdin (`--api-key-stdin`) or named by
//! its file (`--api-key-file`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::global::Env;

/// The profile commands.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create or change a profile (the config file is created 0600).
    Set(SetArgs),
    /// List the profiles.
    List,
    /// Show a profile (the API key never shown).
    Show {
        /// The profile.
        name: String,
    },
}

/// `profile set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The profile.
    pub name: String,
    /// Its environment.
    #[arg(long = "profile-env", value_name = "ENV", value_enum)]
    pub env: Option<Env>,
    /// Its base URL (instead of an environment).
    #[arg(long = "profile-base-url", value_name = "URL")]
    pub base_url: Option<String>,
    /// Its client id.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Read its API key from stdin (one line) and keep it in the config file.
    #[arg(long, conflicts_with = "api_key_file")]
    pub api_key_stdin: bool,
    /// Read its API key from this file at every run (the file is not copied).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Its Redis token store(s), without a password (refused: the password
    /// comes from UQPAY_TOKEN_STORE_PASSWORD or UQPAY_TOKEN_STORE_PASSWORD_FILE
    /// at every run).
    #[arg(
        long = "profile-token-store",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub token_store: Vec<String>,
    /// Its default sub-account (x-on-behalf-of).
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub on_behalf_of: Option<String>,
}
