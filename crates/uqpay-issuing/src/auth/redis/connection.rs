//! The connection to Redis, made on first use: one server
//! ([`ConnectionManager`], which reconnects), or a cluster (the `redis`
//! crate's cluster client, which follows `MOVED` / `ASK` redirections and
//! refreshes the slot map after a failover or a reshard); and the time
//! limit of each command, and what its failures mean.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ConnectionInfo, ErrorKind, Pipeline, RedisFuture, ServerErrorKind, Value};

/// Where the store's Redis is, and the connection once made.
pub(crate) struct Redis {
    target: Target,
    /// The connection, once made; dropped to be made again when the server
    /// turns out to be a replica (`READONLY`) or not ready (`LOADING`,
    /// `MASTERDOWN`), which a connection that stays open never recovers from.
    connection: Mutex<Option<Connection>>,
    /// One connection made at a time.
    connecting: tokio::sync::Mutex<()>,
    /// Answers in a row that said the server is a replica.
    read_only: AtomicU32,
}

/// Where the store's Redis is.
enum Target {
    /// One server (or a proxy in front of several). Boxed: with the redis
    /// crate's TLS features the client is large.
    Single(Box<redis::Client>),
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
    /// Redis did not answer usefully (a connection refused or cut, a
    /// failover under way): the store carries on without it for a while.
    Unreachable(String),
    /// No answer within the command's time limit.
    TimedOut(Duration),
    /// Redis answered that the store is set up wrong for it (keys in
    /// different cluster slots, a cluster node addressed as a single
    /// server): retrying will not help, the configuration must change.
    Misconfigured(String),
}

impl Failure {
    /// Whether Redis is out of reach (rather than misconfigured).
    pub(crate) fn is_unreachable(&self) -> bool {
        !matches!(self, Self::Misconfigured(_))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(why) | Self::Misconfigured(why) => f.write_str(why),
            Self::TimedOut(limit) => write!(f, "no answer within {limit:?}"),
        }
    }
}

impl Redis {
    /// One server at `url`.
    pub(crate) fn single(url: &str) -> redis::RedisResult<Self> {
        Ok(Self::of(Target::Single(Box::new(redis::Client::open(
            url,
        )?))))
    }

    /// A cluster whose seed nodes are `nodes` (at least one).
    pub(crate) fn cluster(nodes: Vec<ConnectionInfo>) -> Self {
        Self::of(Target::Cluster(nodes))
    }

    fn of(target: Target) -> Self {
        Self {
            target,
            connection: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            read_only: AtomicU32::new(0),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
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

    /// The connection, made on first use (or after it was dropped) with
    /// `timeout` for connecting and for each answer.
    async fn connection(&self, timeout: Duration) -> redis::RedisResult<Connection> {
        if let Some(connection) = self.slot().clone() {
            return Ok(connection);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(connection) = self.slot().clone() {
            return Ok(connection);
        }
        let connection = self.connect(timeout).await?;
        *self.slot() = Some(connection.clone());
        Ok(connection)
    }

    async fn connect(&self, timeout: Duration) -> redis::RedisResult<Connection> {
        match &self.target {
            Target::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                ConnectionManager::new_with_config((**client).clone(), config)
                    .await
                    .map(Connection::Single)
            }
            Target::Cluster(nodes) => {
                // A failover takes the cluster's node timeout plus an
                // election: the client retries a command a few times (each
                // bounded by the store's limit anyway), and refreshes its
                // slot map on MOVED, ASK and errors.
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
            Err(_) => Err(Failure::TimedOut(limit)),
        }
    }

    /// A write went through: the server is a primary (again), and READONLY
    /// answers are counted afresh. (Reads succeed on a replica too.)
    pub(crate) fn wrote(&self) {
        self.read_only.store(0, Ordering::Relaxed);
    }

    /// What a failed command means.
    fn failure(&self, error: &redis::RedisError) -> Failure {
        let text = crate::redact::redact(&error.to_string());
        match error.kind() {
            ErrorKind::Server(ServerErrorKind::CrossSlot) => Failure::Misconfigured(format!(
                "Redis refused the store's keys as lying in different slots ({text}): \
                 the keys of one client id share one hash tag, {{<client id>}}, which a \
                 namespace whose own braces make the tag empty (such as `{{}}`) breaks, \
                 and so does a proxy in front of a cluster that spreads a script's keys \
                 (behind such a proxy, turn off legacy_keys too); fix the namespace, or \
                 point RedisTokenStore::cluster at the cluster's nodes"
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
            ErrorKind::Server(ServerErrorKind::ReadOnly)
            | ErrorKind::Server(ServerErrorKind::MasterDown)
            | ErrorKind::Server(ServerErrorKind::BusyLoading) => {
                // A connection kept open to a server that became a replica
                // (a failover, REPLICAOF) never recovers: make it again, so
                // that a name that follows the primary reaches it.
                *self.slot() = None;
                let read_only =
                    matches!(error.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly));
                if read_only && self.read_only.fetch_add(1, Ordering::Relaxed) >= 2 {
                    return Failure::Misconfigured(format!(
                        "the Redis at {} answers READONLY after reconnecting: it is a replica \
                         (a reader endpoint, or a primary demoted by a failover); point the \
                         store at the primary, or at a name that follows it",
                        self.describe()
                    ));
                }
                Failure::Unreachable(format!("{text} (reconnecting)"))
            }
            _ => Failure::Unreachable(text),
        }
    }
}
