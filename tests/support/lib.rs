//! The shared helpers of the workspace-level tests (`tests/it`, the soak),
//! benchmarks (`benches/`), the `fleet-worker` binary and the profiling
//! example: one module per concept, every name re-exported here
//! (`uqpay_e2e::FixedServer`).
//!
//! - [`clients`]: the suite's token, simulators and clients of them, card
//!   numbers and the requests sent most.
//! - [`servers`]: loopback servers answering as a test scripts them
//!   ([`ScriptedServer`], [`FixedServer`]) and recording what they saw.
//! - [`capture`]: `tracing` output captured for inspection.
//! - [`redis`]: a `redis-server` of the test's own; [`cluster`]: a Redis
//!   Cluster of six of them.
//! - [`fleet`]: a replica's client and calls, and their [`FleetReport`].
//! - [`world`]: a simulator on a runtime of its own, for synchronous code.
//! - [`baseline`]: the overhead benchmarks' SDK call and its hand-written
//!   twin.

// Layer order (`cargo xtask layers` checks it): each module uses only the
// modules listed below it; none uses the root's re-exports.
//
//   baseline    the overhead benchmarks' SDK call and its hand-written twin
//   world       a simulator on a runtime of its own, for synchronous code
//   fleet       a replica's client and calls, and their report
//   clients     the suite's token, simulators, clients, card numbers, requests
//   servers     loopback servers answering as a test scripts them
//   capture     tracing output captured for inspection
//   cluster     a Redis Cluster of six nodes of the test's own
//   redis       a redis-server of the test's own

pub mod baseline;
pub mod capture;
pub mod clients;
pub mod cluster;
pub mod fleet;
pub mod redis;
pub mod servers;
pub mod world;

pub use baseline::{
    hand_written_client, hand_written_full_update, sdk_full_update, start_fixed_200_server,
};
pub use capture::{Capture, Recording};
pub use clients::{
    assign_request, assign_share_card, client, client_of, credentialed, fast_builder, pan,
    simulator, AUTH_HEADER, TOKEN,
};
pub use cluster::{ClusterNode, RedisCluster};
pub use fleet::{error_kind, replica, replica_client, FleetReport};
pub use redis::RedisServer;
pub use servers::{
    header_text, Canned, FixedServer, Script, ScriptedServer, Seen, UPDATE_CARD_RESPONSE,
};
pub use world::{start_simulator_on_own_runtime, SyncWorld};
