//! The simulator's command-line flags, for the `uqpay-mock` binary and for
//! any command line that runs the simulator (the operator CLI's
//! `uqpay-issuing mock serve` flattens them):
//!
//! ```
//! use clap::Parser;
//! use uqpay_mock::cli::{Configured, ServeArgs};
//!
//! #[derive(Parser)]
//! struct Command {
//!     #[command(flatten)]
//!     serve: ServeArgs,
//! }
//!
//! let command = Command::parse_from(["serve", "--addr", "127.0.0.1:0", "--faults", "503"]);
//! let Configured { builder, made_up } = command.serve.configure().unwrap();
//! # let _ = (builder, made_up);
//! ```
//!
//! [`ServeArgs::configure`] maps the flags onto a [`MockServerBuilder`],
//! making up the token and credentials the flags leave out; [`MadeUp`]
//! prints them as the binary does, after the base URL.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use rand::distr::{Alphanumeric, SampleString as _};

use crate::faults::Fault;
use crate::ratelimit::RateLimits;
use crate::server::builder::{
    MockServerBuilder, DEFAULT_EVENT_CAPACITY, DEFAULT_IDEMPOTENCY_CAPACITY,
};
use crate::tokens::TokenPolicy;

/// The flags of the `uqpay-mock` binary: where to listen, the credentials,
/// the token policy, rate limits, webhooks, orders and faults.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
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
    /// Lifetime of issued tokens, in seconds (UQPay's: 30 minutes). Issuing a
    /// token voids the earlier ones of the client id.
    #[arg(long, default_value_t = 1800)]
    pub token_lifetime_secs: u64,
    /// Also accept `x-auth-token: <token>` without `Bearer ` (refused by
    /// default, as UQPay's gateway does).
    #[arg(long)]
    pub accept_bare_token: bool,
    /// Apply rate limits: UQPay's per-minute ones, sandbox (token endpoint
    /// 60, other calls 500) or production (100 / 300); or N card calls per
    /// window, e.g. 6000/60s or 100/1s,token=10 (the token endpoint
    /// unlimited unless token= says). Off by default.
    #[arg(long, value_name = "sandbox|production|N/WINDOW[,token=M]")]
    pub rate_limit: Option<RateLimits>,
    /// Whether a new token voids the earlier ones of the client id (void,
    /// as UQPay's Card Issuance FAQ says) or they coexist (as its v1.6
    /// quickstart says).
    #[arg(long, default_value = "void", value_name = "void|coexist")]
    pub token_policy: TokenPolicy,
    /// The most idempotency records kept (past 24 hours they are dropped
    /// anyway; beyond this many, the oldest first).
    #[arg(long, default_value_t = DEFAULT_IDEMPOTENCY_CAPACITY)]
    pub idempotency_capacity: usize,
    /// The most settled events kept for inspection (the oldest dropped first).
    #[arg(long, default_value_t = DEFAULT_EVENT_CAPACITY)]
    pub event_capacity: usize,
    /// Seed of the fault RNG.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction (0..=1) of card requests that get a random fault.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fault_rate)]
    pub fault_rate: f64,
    /// Deliver the events of settled card orders to this URL (a JSON POST
    /// signed as UQPay signs it; redelivered until acknowledged with a 2xx).
    #[arg(long, requires = "webhook_secret")]
    pub webhook_url: Option<String>,
    /// The secret the webhook deliveries are signed with (HMAC-SHA512 over the
    /// body and the x-wk-timestamp header).
    #[arg(long, requires = "webhook_url")]
    pub webhook_secret: Option<String>,
    /// How many times an event is sent before it is given up on.
    #[arg(long, default_value_t = 10)]
    pub webhook_max_attempts: u32,
    /// How long each card order takes to settle, in milliseconds (0: at
    /// once, before the request is answered).
    #[arg(long, default_value_t = 0)]
    pub order_delay_ms: u64,
    /// How long a cancelled card stays PRE_CANCEL before it is CANCELLED, in
    /// seconds of the simulator's clock (UQPay: 30 days).
    #[arg(long, default_value_t = 0)]
    pub pre_cancel_secs: u64,
    /// The faults to draw from: rate-limited, 500, 502, 503, 504, processing, drop-before, drop-after
    /// (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
}

/// A simulator configured from [`ServeArgs`], not started yet.
#[derive(Debug)]
pub struct Configured {
    /// The builder, every flag applied.
    pub builder: MockServerBuilder,
    /// The token and credentials made up for the flags left out.
    pub made_up: MadeUp,
}

/// The token and the credentials [`ServeArgs::configure`] made up, to be
/// told to whoever runs the simulator.
#[derive(Debug)]
pub struct MadeUp {
    /// The token, when no `--token` was given.
    token: Option<String>,
    /// The client id and API key (given or made up), when either was left out.
    credentials: Option<(String, String)>,
}

impl MadeUp {
    /// What the binary prints once the simulator listens: the base URL on
    /// the first line, then `token: ...` when the token was made up, then
    /// `client id: ...` and `api key: ...` when either was; each line ends
    /// with a newline.
    pub fn banner(&self, base_url: &str) -> String {
        let mut text = format!("{base_url}\n");
        if let Some(token) = &self.token {
            text.push_str(&format!("token: {token}\n"));
        }
        if let Some((client_id, api_key)) = &self.credentials {
            text.push_str(&format!("client id: {client_id}\napi key: {api_key}\n"));
        }
        text
    }
}

impl ServeArgs {
    /// The simulator the flags describe: a builder with every flag applied,
    /// and the token and credentials made up for those left out. Fails on
    /// a fault `--faults` does not name (see [`parse_fault`]).
    pub fn configure(&self) -> Result<Configured, String> {
        let kinds = if self.faults.is_empty() {
            Fault::all()
        } else {
            self.faults
                .iter()
                .map(|f| parse_fault(f))
                .collect::<Result<Vec<_>, _>>()?
        };
        let made_up_token = self.tokens.is_empty().then(|| made_up("tok"));
        let client_id = self.client_id.clone().unwrap_or_else(|| made_up("client"));
        let api_key = self.api_key.clone().unwrap_or_else(|| made_up("key"));

        let mut builder = MockServerBuilder::default()
            .addr(self.addr)
            .credentials(client_id.clone(), api_key.clone())
            .token_lifetime(Duration::from_secs(self.token_lifetime_secs))
            .accept_bare_token(self.accept_bare_token)
            .token_policy(self.token_policy)
            .idempotency_capacity(self.idempotency_capacity)
            .event_capacity(self.event_capacity)
            .seed(self.seed)
            .random_faults(self.fault_rate, kinds);
        for token in made_up_token.iter().chain(&self.tokens) {
            builder = builder.token(token.clone());
        }
        if let Some(limits) = self.rate_limit {
            builder = builder.rate_limits(limits);
        }
        if let (Some(url), Some(secret)) = (&self.webhook_url, &self.webhook_secret) {
            builder = builder
                .webhook(url.clone(), secret.clone())
                .webhook_redelivery(
                    self.webhook_max_attempts,
                    Duration::from_millis(50),
                    Duration::from_secs(2),
                );
        }
        builder = builder
            .order_delay(Duration::from_millis(self.order_delay_ms))
            .pre_cancel_period(Duration::from_secs(self.pre_cancel_secs));
        let credentials =
            (self.client_id.is_none() || self.api_key.is_none()).then_some((client_id, api_key));
        Ok(Configured {
            builder,
            made_up: MadeUp {
                token: made_up_token,
                credentials,
            },
        })
    }
}

/// A fault by the name `--faults` gives it: `rate-limited` (or `429`: a
/// 429 with `Retry-After: 1`), a 5xx status (`500`, `502`, `503`, `504`),
/// `processing`, `drop-before`, `drop-after`.
pub fn parse_fault(name: &str) -> Result<Fault, String> {
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

/// A made-up secret: `prefix-` and 24 random letters and digits.
fn made_up(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        Alphanumeric.sample_string(&mut rand::rng(), 24)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        Command::try_parse_from(std::iter::once("uqpay-mock").chain(args.iter().copied()))
            .map(|c| c.serve)
    }

    #[test]
    fn faults_by_name() {
        assert_eq!(parse_fault("drop-after"), Ok(Fault::DropAfterCommit));
        assert_eq!(parse_fault(" 503 "), Ok(Fault::ServerError(503)));
        assert_eq!(
            parse_fault("429"),
            Ok(Fault::RateLimited {
                retry_after: Duration::from_secs(1)
            })
        );
        assert_eq!(parse_fault("404"), Err("unknown fault \"404\"".to_owned()));
        assert!(parse_fault("drop").is_err());
    }

    #[test]
    fn fault_rates_outside_0_to_1_are_refused() {
        assert_eq!(parse(&["--fault-rate", "0.25"]).unwrap().fault_rate, 0.25);
        for bad in ["1.5", "-0.1", "NaN", "lots"] {
            assert!(parse(&["--fault-rate", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_webhook_needs_its_url_and_its_secret() {
        assert!(parse(&["--webhook-url", "http://127.0.0.1:9/"]).is_err());
        assert!(parse(&["--webhook-secret", "s"]).is_err());
        let both = parse(&[
            "--webhook-url",
            "http://127.0.0.1:9/",
            "--webhook-secret",
            "s",
        ]);
        assert!(both.is_ok());
    }

    #[test]
    fn an_unknown_fault_is_refused_by_configure() {
        let args = parse(&["--faults", "503,teapot"]).unwrap();
        assert_eq!(
            args.configure().unwrap_err(),
            "unknown fault \"teapot\"".to_owned()
        );
    }

    #[test]
    fn the_banner_names_only_what_was_made_up() {
        let given = parse(&["--token", "T", "--client-id", "C", "--api-key", "K"]).unwrap();
        let banner = given.configure().unwrap().made_up.banner("http://h/api");
        assert_eq!(banner, "http://h/api\n");

        let key_only = parse(&["--token", "T", "--api-key", "K"]).unwrap();
        let banner = key_only.configure().unwrap().made_up.banner("http://h/api");
        let lines: Vec<&str> = banner.lines().collect();
        assert_eq!(lines.len(), 3, "{banner}");
        assert!(lines[1].starts_with("client id: client-"), "{banner}");
        assert_eq!(lines[2], "api key: K");

        let nothing = parse(&[]).unwrap();
        let banner = nothing.configure().unwrap().made_up.banner("http://h/api");
        let lines: Vec<&str> = banner.lines().collect();
        assert_eq!(lines[0], "http://h/api");
        let token = lines[1].strip_prefix("token: tok-").unwrap();
        assert_eq!(token.len(), 24);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(
            lines[2].starts_with("client id: client-") && lines[3].starts_with("api key: key-")
        );
    }

    #[tokio::test]
    async fn the_configured_simulator_accepts_the_given_and_made_up_credentials() {
        let args = parse(&[
            "--addr",
            "127.0.0.1:0",
            "--client-id",
            "C",
            "--api-key",
            "K",
        ])
        .unwrap();
        let Configured { builder, made_up } = args.configure().unwrap();
        let server = builder.start().await.unwrap();
        let banner = made_up.banner(&server.base_url());
        let token = banner
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("token: ")
            .unwrap();
        assert_eq!(server.token(), token);
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/connect/token", server.base_url()))
            .header("x-client-id", "C")
            .header("x-api-key", "K")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
}
