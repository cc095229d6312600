//! The SDK client of a run, from its [`Settings`]: the environment (or the
//! simulator, started in this process for `--env mock`), the credentials,
//! the Redis token store, and the rate limit a bulk run keeps.

use std::time::Duration;

use uqpay_issuing::{Client, ClientBuilder, Environment, RateLimit, RedisTokenStore};
use uqpay_mock::MockServer;

use crate::config::{Credentials, Settings, Target};
use crate::exit::Failure;
use crate::redis_url::StoreUrl;

/// A client, and the simulator it talks to when `--env mock` started one
/// (kept alive as long as the session).
pub struct Session {
    /// The client.
    pub client: Client,
    /// Whether the token (and the rate limit) is the fleet's, in Redis.
    pub fleet: bool,
    _mock: Option<MockServer>,
}

/// What a command asks of the client beyond the settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tuning {
    /// The rate limit to keep, as the operator wrote it (N per window).
    pub rate_limit: Option<RateLimit>,
    /// Whether to spread the calls evenly over the window rather than let
    /// a burst of N go at once (bulk runs without a fleet token store).
    pub smooth: bool,
    /// Whether the retry budget is off (bulk runs requeue instead).
    pub no_retry_budget: bool,
}

/// The documented rate limit of the card endpoints in `target`, if any.
pub fn documented_limit(target: &Target) -> Option<RateLimit> {
    match target {
        Target::Production => Some(RateLimit::production()),
        Target::Sandbox => Some(RateLimit::sandbox()),
        Target::Mock | Target::BaseUrl(_) => None,
    }
}

/// `limit` spread evenly: the same rate in windows of about a second, so
/// no burst of a whole minute's calls starves the rest of the account.
/// The SDK's limiter adds a fiftieth of the window for the network (at
/// least 20 ms), so the pace is 2 % under the limit.
pub fn smoothed(limit: RateLimit) -> RateLimit {
    let per = limit.per();
    let rate = f64::from(limit.requests()) / per.as_secs_f64();
    if per <= Duration::from_secs(1) || rate < 1.0 {
        // Already short, or fewer than one call a second: one call per slot.
        let slot = per.div_f64(f64::from(limit.requests()));
        if rate < 1.0 {
            return RateLimit::new(1, slot);
        }
        return limit;
    }
    let calls = rate.floor().max(1.0);
    RateLimit::new(calls as u32, Duration::from_secs_f64(calls / rate))
}

/// Builds the client of a run.
pub async fn connect(settings: &Settings, tuning: Tuning) -> Result<Session, Failure> {
    let mut builder = Client::builder();
    let mut mock = None;
    match &settings.target {
        Target::Sandbox => builder = builder.environment(Environment::Sandbox),
        Target::Production => builder = builder.environment(Environment::Production),
        Target::BaseUrl(url) => builder = builder.base_url(url.clone()),
        Target::Mock => {
            let server = MockServer::builder()
                .start()
                .await
                .map_err(|e| Failure::internal(format!("cannot start the simulator: {e}")))?;
            builder = builder.base_url(server.base_url());
            mock = Some(server);
        }
    }
    builder =
        match (&settings.credentials, &mock) {
            (Credentials::Key { client_id, api_key }, _) => {
                builder.credentials(client_id.clone(), api_key.expose().to_owned())
            }
            (Credentials::Token(token), _) => builder.token(token.expose().to_owned()),
            (Credentials::None, Some(server)) => {
                let (client_id, api_key) = server.credentials();
                builder.credentials(client_id.to_owned(), api_key.to_owned())
            }
            (Credentials::None, None) => return Err(Failure::usage(
                "no credentials: set UQPAY_CLIENT_ID and UQPAY_API_KEY (or UQPAY_API_KEY_FILE), \
                 or UQPAY_API_TOKEN, or use a profile (--profile NAME)",
            )),
        };
    let fleet = !settings.token_store.is_empty() && mock.is_none();
    if fleet {
        if matches!(settings.credentials, Credentials::Token(_)) {
            return Err(Failure::usage(
                "--token-store needs UQPAY_CLIENT_ID and UQPAY_API_KEY: a fixed token has no store",
            ));
        }
        builder = builder.token_store(token_store(settings)?);
    }
    if let Some(account) = &settings.on_behalf_of {
        builder = builder.on_behalf_of(account.clone());
    }
    builder = tune(builder, tuning, fleet);
    let client = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Session {
        client,
        fleet,
        _mock: mock,
    })
}

fn tune(mut builder: ClientBuilder, tuning: Tuning, fleet: bool) -> ClientBuilder {
    if let Some(limit) = tuning.rate_limit {
        // With a fleet's store the limit is the fleet's, kept in Redis: it
        // must be the very limit the services keep.
        let limit = if tuning.smooth && !fleet {
            smoothed(limit)
        } else {
            limit
        };
        builder = builder.rate_limit(limit);
    }
    if tuning.no_retry_budget {
        builder = builder.retry_budget(uqpay_issuing::RetryBudget::disabled());
    }
    builder
}

/// One URL: a single server (unless `--token-store-cluster`); several: the
/// seeds of a Redis Cluster. `rediss://` is Redis over TLS (rustls, the
/// system's roots). The error (as every [`Failure`]) shows no password.
fn token_store(settings: &Settings) -> Result<RedisTokenStore, Failure> {
    let urls = &settings.token_store;
    let store = if urls.len() == 1 && !settings.token_store_cluster {
        RedisTokenStore::new(urls[0].expose())
    } else {
        RedisTokenStore::cluster(urls.iter().map(StoreUrl::expose))
    };
    store.map_err(|e| Failure::usage(format!("--token-store: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_keeps_the_rate_in_windows_of_a_second() {
        let production = smoothed(RateLimit::production());
        assert_eq!(production.requests(), 5);
        assert_eq!(production.per(), Duration::from_secs(1));
        let fast = smoothed(RateLimit::new(6000, Duration::from_secs(60)));
        assert_eq!((fast.requests(), fast.per()), (100, Duration::from_secs(1)));
        let slow = smoothed(RateLimit::new(30, Duration::from_secs(60)));
        assert_eq!((slow.requests(), slow.per()), (1, Duration::from_secs(2)));
        let short = RateLimit::new(100, Duration::from_millis(250));
        assert_eq!(smoothed(short), short);
    }
}
