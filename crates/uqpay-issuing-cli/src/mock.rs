//! `mock serve`: the simulator, with the options of the `uqpay-mock`
//! binary, mapped onto [`MockServer::builder`].

use std::io::Write as _;
use std::time::Duration;

use uqpay_mock::{Fault, MockServer};
use uuid::Uuid;

use crate::cli::mock::{MockCommand, ServeArgs};
use crate::exit::{self, Failure};

/// Runs a mock command; the exit code.
pub async fn run(command: MockCommand) -> Result<u8, Failure> {
    match command {
        MockCommand::Serve(args) => serve(args).await,
    }
}

/// A simulator fault by the name the `uqpay-mock` binary gives it.
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
            _ => {
                return Err(format!(
                    "unknown fault {name:?} (rate-limited, 500, 502, 503, 504, processing, \
                     drop-before, drop-after)"
                ))
            }
        },
    })
}

fn made_up(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

async fn serve(args: ServeArgs) -> Result<u8, Failure> {
    let kinds = if args.faults.is_empty() {
        Fault::all()
    } else {
        args.faults
            .iter()
            .map(|f| parse_fault(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::usage)?
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
    let server = builder
        .start()
        .await
        .map_err(|e| Failure::usage(format!("cannot start the simulator on {}: {e}", args.addr)))?;

    // The simulator's own made-up credentials, printed as `uqpay-mock` does.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", server.base_url());
    if invented_token {
        let _ = writeln!(stdout, "token: {}", tokens[0]);
    }
    if args.client_id.is_none() || args.api_key.is_none() {
        let _ = writeln!(stdout, "client id: {client_id}");
        let _ = writeln!(stdout, "api key: {api_key}");
    }
    let _ = stdout.flush();
    drop(stdout);
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::internal(format!("cannot wait for Ctrl-C: {e}")))?;
    server.shutdown();
    Ok(exit::INTERRUPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_by_name() {
        assert_eq!(parse_fault("drop-after"), Ok(Fault::DropAfterCommit));
        assert_eq!(parse_fault("503"), Ok(Fault::ServerError(503)));
        assert!(parse_fault("404").is_err());
    }
}
