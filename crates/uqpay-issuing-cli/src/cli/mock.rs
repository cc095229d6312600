//! `mock serve`: the simulator's options, as the `uqpay-mock` binary takes
//! them (same names, same defaults, same value syntax).
//!
//! The simulator binary keeps its flag set private (`crates/uqpay-mock/src/main.rs`),
//! so it is mirrored here; if `uqpay-mock` exposed its clap arguments this
//! would be one `#[command(flatten)]`.

use std::net::SocketAddr;

use clap::{Args, Subcommand};
use uqpay_mock::{RateLimits, TokenPolicy};

/// The simulator commands.
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// Run the simulator until interrupted. The first line on stdout is its
    /// base URL (e.g. http://127.0.0.1:8080/api), then the token and
    /// credentials it made up, if any.
    Serve(ServeArgs),
}

/// The simulator's options (those of the `uqpay-mock` binary).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// A fixed x-auth-token to accept (repeatable). Made up and printed when absent.
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// The client id the token endpoint issues tokens to. Made up when absent.
    #[arg(long)]
    pub client_id: Option<String>,
    /// The API key the token endpoint issues tokens to. Made up when absent.
    #[arg(long)]
    pub api_key: Option<String>,
    /// Lifetime of issued tokens, in seconds (UQPay's: 30 minutes).
    #[arg(long, default_value_t = 1800)]
    pub token_lifetime_secs: u64,
    /// Also accept `x-auth-token: <token>` without `Bearer `.
    #[arg(long)]
    pub accept_bare_token: bool,
    /// Rate limits: sandbox, production, or N card calls per window
    /// (6000/60s, 100/1s,token=10). Off by default.
    #[arg(long, value_name = "sandbox|production|N/WINDOW[,token=M]")]
    pub rate_limit: Option<RateLimits>,
    /// Whether a new token voids the earlier ones of the client id.
    #[arg(long, default_value = "void", value_name = "void|coexist")]
    pub token_policy: TokenPolicy,
    /// The most idempotency records kept.
    #[arg(long, default_value_t = uqpay_mock::DEFAULT_IDEMPOTENCY_CAPACITY)]
    pub idempotency_capacity: usize,
    /// The most settled events kept for inspection.
    #[arg(long, default_value_t = uqpay_mock::DEFAULT_EVENT_CAPACITY)]
    pub event_capacity: usize,
    /// Seed of the fault RNG.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction (0..=1) of card requests that get a random fault.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fault_rate)]
    pub fault_rate: f64,
    /// Deliver the events of settled card orders to this URL.
    #[arg(long, requires = "webhook_secret")]
    pub webhook_url: Option<String>,
    /// The secret the webhook deliveries are signed with.
    #[arg(long, requires = "webhook_url")]
    pub webhook_secret: Option<String>,
    /// How many times an event is sent before it is given up on.
    #[arg(long, default_value_t = 10)]
    pub webhook_max_attempts: u32,
    /// How long each card order takes to settle, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub order_delay_ms: u64,
    /// How long a cancelled card stays PRE_CANCEL, in seconds of the simulator's clock.
    #[arg(long, default_value_t = 0)]
    pub pre_cancel_secs: u64,
    /// The faults to draw from: rate-limited, 500, 502, 503, 504,
    /// processing, drop-before, drop-after (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
}

/// A fault rate: a number from 0 to 1.
fn parse_fault_rate(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| {
            "must be a fraction of requests, a number from 0 to 1 (e.g. 0.25)".to_owned()
        })
}
