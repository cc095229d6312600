//! The connection to Redis, made on first use, and the time limit of each
//! command.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::auth::redis::store::RedisTokenStore;

impl RedisTokenStore {
    pub(crate) async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let inner = &self.inner;
        inner
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(inner.operation_timeout))
                    .set_response_timeout(Some(inner.operation_timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                ConnectionManager::new_with_config(inner.client.clone(), config).await
            })
            .await
            .cloned()
    }

    /// One command (and the connection it needs) within `limit`.
    pub(crate) async fn run<T>(
        &self,
        limit: Duration,
        command: impl AsyncFnOnce(&mut ConnectionManager) -> Result<T, redis::RedisError>,
    ) -> Result<T, String> {
        let attempt = async {
            let mut connection = self.connection().await?;
            command(&mut connection).await
        };
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(crate::redact::redact(&error.to_string())),
            Err(_) => Err(format!("no answer within {limit:?}")),
        }
    }
}
