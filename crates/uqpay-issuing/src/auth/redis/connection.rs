//! The connection to Redis, made on first use: one server
//! ([`ConnectionManager`], which reconnects), or a cluster (the `redis`
//! crate's cluster client, which follows `MOVED` / `ASK` redirections and
//! refreshes the slot map after a failover or a reshard); and the time
//! limit of each command, and what its failures mean.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ConnectionInfo, ErrorKind, Pipeline, RedisFuture, ServerErrorKind, Value};
use tokio::sync::OnceCell;

/// Where the store's Redis is, and the connection once made.
pub(crate) struct Redis {
    target: Target,
    connection: OnceCell<Connection>,
}

/// Where the store's Redis is.
enum Target {
    /// One server (or a proxy in front of several).
    Single(redis::Client),
    /// A cluster, known by its seed nodes.
    Cluster(Vec<ConnectionInfo>),
}

/// A connection to either kind of Redis; cheap to clone.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Why a command failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Redis did not answer, or not usefully (a connection refused or cut,
    /// no answer in time, a failover under way): the store carries on
    /// without it for a while.
    Unreachable(String),
    /// Redis answered that the store is set up wrong for it (keys in
    /// different cluster slots, a cluster node addressed as a single
    /// server): retrying will not help, the configuration must change.
    Misconfigured(String),
}

impl Failure {
    /// The text of the failure (secrets and card numbers masked).
    pub(crate) fn text(&self) -> &str {
        match self {
            Self::Unreachable(why) | Self::Misconfigured(why) => why,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Redis {
    /// One server at `url`.
    pub(crate) fn single(url: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            target: Target::Single(redis::Client::open(url)?),
            connection: OnceCell::new(),
        })
    }

    /// A cluster whose seed nodes are `nodes` (at least one).
    pub(crate) fn cluster(nodes: Vec<ConnectionInfo>) -> Self {
        Self {
            target: Target::Cluster(nodes),
            connection: OnceCell::new(),
        }
    }

    /// Whether this is a cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    /// The server, or the seed nodes, for `Debug` (no password).
    pub(crate) fn describe(&self) -> String {
        match &self.target {
            Target::Single(client) => client.get_connection_info().addr().to_string(),
            Target::Cluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(|n| n.addr().to_string()).collect();
                format!("cluster of {}", nodes.join(", "))
            }
        }
    }

    /// The connection, made on first use with `timeout` for connecting and
    /// for each answer.
    async fn connection(&self, timeout: Duration) -> redis::RedisResult<Connection> {
        self.connection
            .get_or_try_init(|| async {
                match &self.target {
                    Target::Single(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(timeout))
                            .set_response_timeout(Some(timeout))
                            .set_number_of_retries(1)
                            .set_max_delay(Duration::from_millis(200));
                        ConnectionManager::new_with_config(client.clone(), config)
                            .await
                            .map(Connection::Single)
                    }
                    Target::Cluster(nodes) => {
                        // A failover takes the cluster's node timeout plus an
                        // election: the client retries a command a few times
                        // (each bounded by the store's limit anyway), and
                        // refreshes its slot map on MOVED, ASK and errors.
                        let client = ClusterClientBuilder::new(nodes.clone())
                            .connection_timeout(timeout)
                            .response_timeout(timeout)
                            .retries(3)
                            .min_retry_wait(20)
                            .max_retry_wait(200)
                            .build()?;
                        client.get_async_connection().await.map(Connection::Cluster)
                    }
                }
            })
            .await
            .cloned()
    }

    /// One command (and the connection it needs) within `limit`; the
    /// connection is made with `connect` as its time limits.
    pub(crate) async fn run<T>(
        &self,
        limit: Duration,
        connect: Duration,
        command: impl AsyncFnOnce(&mut Connection) -> Result<T, redis::RedisError>,
    ) -> Result<T, Failure> {
        let attempt = async {
            let mut connection = self.connection(connect).await?;
            command(&mut connection).await
        };
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.failure(&error)),
            Err(_) => Err(Failure::Unreachable(format!("no answer within {limit:?}"))),
        }
    }

    /// What a failed command means.
    fn failure(&self, error: &redis::RedisError) -> Failure {
        let text = crate::redact::redact(&error.to_string());
        match error.kind() {
            ErrorKind::Server(ServerErrorKind::CrossSlot) => Failure::Misconfigured(format!(
                "Redis refused the store's keys as lying in different slots ({text}): \
                 the keys of one client id share one hash tag, {{<client id>}}, so a \
                 namespace with braces of its own, or a proxy in front of a cluster that \
                 does not keep multi-key commands in one slot, breaks them; remove the \
                 braces from the namespace, or point RedisTokenStore::cluster at the \
                 cluster's nodes"
            )),
            ErrorKind::Server(ServerErrorKind::Moved | ServerErrorKind::Ask)
                if !self.is_cluster() =>
            {
                Failure::Misconfigured(format!(
                    "the Redis at {} is a node of a cluster (it redirected a command: {text}); \
                     use RedisTokenStore::cluster with the cluster's nodes",
                    self.describe()
                ))
            }
            _ => Failure::Unreachable(text),
        }
    }
}
