//! `uqpay-mock`: the simulator as a standalone server.
//!
//! ```sh
//! cargo run -p uqpay-mock -- --addr 127.0.0.1:8080 --token T --client-id C --api-key K
//! ```
//!
//! The first line of standard output is the base URL (e.g.
//! `http://127.0.0.1:8080/api`); the server runs until killed.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use rand::distr::{Alphanumeric, SampleString as _};
use uqpay_mock::{Fault, MockServer, RateLimits, TokenPolicy};

/// A stateful simulator of UQPay's card-issuing API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// A fixed x-auth-token to accept (repeatable). Made up and printed when absent.
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// The client id the token endpoint issues tokens to. Made up when absent.
    #[arg(long)]
    client_id: Option<String>,
    /// The API key the token endpoint issues tokens to. Made up when absent.
    #[arg(long)]
    api_key: Option<String>,
    /// Lifetime of issued tokens, in seconds (UQPay's: 30 minutes). Issuing a
    /// token voids the earlier ones of the client id.
    #[arg(long, default_value_t = 1800)]
    token_lifetime_secs: u64,
    /// Also accept `x-auth-token: <token>` without `Bearer ` (refused by
    /// default, as UQPay's gateway does).
    #[arg(long)]
    accept_bare_token: bool,
    /// Apply rate limits: UQPay's per-minute ones, sandbox (token endpoint
    /// 60, other calls 500) or production (100 / 300); or N card calls per
    /// window, e.g. 6000/60s or 100/1s,token=10 (the token endpoint
    /// unlimited unless token= says). Off by default.
    #[arg(long, value_name = "sandbox|production|N/WINDOW[,token=M]")]
    rate_limit: Option<RateLimits>,
    /// Whether a new token voids the earlier ones of the client id (void,
    /// as UQPay's Card Issuance FAQ says) or they coexist (as its v1.6
    /// quickstart says).
    #[arg(long, default_value = "void", value_name = "void|coexist")]
    token_policy: TokenPolicy,
    /// The most idempotency records kept (past 24 hours they are dropped
    /// anyway; beyond this many, the oldest first).
    #[arg(long, default_value_t = uqpay_mock::DEFAULT_IDEMPOTENCY_CAPACITY)]
    idempotency_capacity: usize,
    /// The most settled events kept for inspection (the oldest dropped first).
    #[arg(long, default_value_t = uqpay_mock::DEFAULT_EVENT_CAPACITY)]
    event_capacity: usize,
    /// Seed of the fault RNG.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction (0..=1) of card requests that get a random fault.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fault_rate)]
    fault_rate: f64,
    /// Deliver the events of settled card orders to this URL (a JSON POST
    /// signed as UQPay signs it; redelivered until acknowledged with a 2xx).
    #[arg(long, requires = "webhook_secret")]
    webhook_url: Option<String>,
    /// The secret the webhook deliveries are signed with (HMAC-SHA512 over the
    /// body and the x-wk-timestamp header).
    #[arg(long, requires = "webhook_url")]
    webhook_secret: Option<String>,
    /// How many times an event is sent before it is given up on.
    #[arg(long, default_value_t = 10)]
    webhook_max_attempts: u32,
    /// How long each card order takes to settle, in milliseconds (0: at
    /// once, before the request is answered).
    #[arg(long, default_value_t = 0)]
    order_delay_ms: u64,
    /// How long a cancelled card stays PRE_CANCEL before it is CANCELLED, in
    /// seconds of the simulator's clock (UQPay: 30 days).
    #[arg(long, default_value_t = 0)]
    pre_cancel_secs: u64,
    /// The faults to draw from: rate-limited, 500, 502, 503, 504, processing, drop-before, drop-after
    /// (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    faults: Vec<String>,
}

/// A fault rate: a number from 0 to 1 (NaN and rates over 1 are refused,
/// not clamped).
fn parse_fault_rate(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| {
            "must be a fraction of requests, a number from 0 to 1 (e.g. 0.25)".to_owned()
        })
}

fn parse_fault(name: &str) -> Result<Fault, String> {
    Ok(match name.trim() {
        "rate-limited" | "429" => Fault::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        "processing" => Fault::RequestProcessing,
        "drop-before" => Fault::DropBeforeProcessing,
        "drop-after" => Fault::DropAfterCommit,
        status => match status.parse::<u16>() {
            Ok(code @ 500..=599) => Fault::ServerError(code),
            _ => return Err(format!("unknown fault {name:?}")),
        },
    })
}

fn made_up(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        Alphanumeric.sample_string(&mut rand::rng(), 24)
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let kinds = if args.faults.is_empty() {
        Fault::all()
    } else {
        args.faults
            .iter()
            .map(|f| parse_fault(f))
            .collect::<Result<Vec<_>, _>>()?
    };
    let invented_token = args.tokens.is_empty();
    let tokens = if invented_token {
        vec![made_up("tok")]
    } else {
        args.tokens.clone()
    };
    let client_id = args.client_id.clone().unwrap_or_else(|| made_up("client"));
    let api_key = args.api_key.clone().unwrap_or_else(|| made_up("key"));

    let mut builder = MockServer::builder()
        .addr(args.addr)
        .credentials(client_id.clone(), api_key.clone())
        .token_lifetime(Duration::from_secs(args.token_lifetime_secs))
        .accept_bare_token(args.accept_bare_token)
        .token_policy(args.token_policy)
        .idempotency_capacity(args.idempotency_capacity)
        .event_capacity(args.event_capacity)
        .seed(args.seed)
        .random_faults(args.fault_rate, kinds);
    for token in &tokens {
        builder = builder.token(token.clone());
    }
    if let Some(limits) = args.rate_limit {
        builder = builder.rate_limits(limits);
    }
    if let (Some(url), Some(secret)) = (&args.webhook_url, &args.webhook_secret) {
        builder = builder
            .webhook(url.clone(), secret.clone())
            .webhook_redelivery(
                args.webhook_max_attempts,
                Duration::from_millis(50),
                Duration::from_secs(2),
            );
    }
    builder = builder
        .order_delay(Duration::from_millis(args.order_delay_ms))
        .pre_cancel_period(Duration::from_secs(args.pre_cancel_secs));
    let server = builder.start().await?;

    println!("{}", server.base_url());
    if invented_token {
        println!("token: {}", tokens[0]);
    }
    if args.client_id.is_none() || args.api_key.is_none() {
        println!("client id: {client_id}");
        println!("api key: {api_key}");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
