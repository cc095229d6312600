//! A Redis Cluster of the test's own: six `redis-server --cluster-enabled
//! yes` processes on free loopback ports (three masters, three replicas,
//! made by `redis-cli --cluster create`), a short node timeout so that a
//! failover takes about two seconds, stopped by PID when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node: its port and process.
struct Node {
    port: u16,
    child: Option<Child>,
}

/// A running cluster (see the module docs). Needs Debian's `redis-server`,
/// which brings `redis-cli`.
pub struct RedisCluster {
    dir: PathBuf,
    nodes: Vec<Node>,
}

/// What `CLUSTER NODES` says of one node.
#[derive(Clone, Debug)]
pub struct ClusterNode {
    /// The node's id.
    pub id: String,
    /// Its port.
    pub port: u16,
    /// A master (else a replica).
    pub master: bool,
    /// Marked failed (`fail`) by the cluster.
    pub failed: bool,
    /// The slots it serves (masters).
    pub slots: Vec<(u16, u16)>,
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if port <= 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl RedisCluster {
    /// Starts six nodes, makes them a cluster of three masters with one
    /// replica each, and waits until every slot is served.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("uqpay-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Self {
            dir,
            nodes: Vec::new(),
        };
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < 6 {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        for port in ports {
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-replica-validity-factor",
                    "0",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .current_dir(&cluster.dir)
                .stdout(Stdio::null())
                .spawn()
                .expect(
                    "cannot start redis-server: install it (Debian: apt-get install redis-server)",
                );
            cluster.nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        for node in &cluster.nodes {
            wait_for(Duration::from_secs(5), || {
                std::net::TcpStream::connect(("127.0.0.1", node.port)).is_ok()
            });
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("cannot run redis-cli");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        cluster.wait_until_ok(Duration::from_secs(30));
        cluster
    }

    /// The seed URLs of every node (`redis://127.0.0.1:PORT`).
    pub fn seeds(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// The ports of the nodes still running.
    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// Runs a command on the node at `port` with `redis-cli --raw`; its
    /// output, trimmed (`None` if the node does not answer).
    pub fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "--raw"])
            .args(args)
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The nodes as a live node sees them.
    pub fn topology(&self) -> Vec<ClusterNode> {
        for port in self.live_ports() {
            let Some(text) = self.cli(port, &["CLUSTER", "NODES"]) else {
                continue;
            };
            let nodes: Vec<ClusterNode> = text
                .lines()
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let port = fields.get(1)?.split(['@', ':']).nth(1)?.parse().ok()?;
                    let flags = fields.get(2)?;
                    let slots = fields
                        .iter()
                        .skip(8)
                        .filter(|s| !s.starts_with('['))
                        .filter_map(|range| {
                            let (a, b) = range.split_once('-').unwrap_or((range, range));
                            Some((a.parse().ok()?, b.parse().ok()?))
                        })
                        .collect();
                    Some(ClusterNode {
                        id: fields[0].to_owned(),
                        port,
                        master: flags.contains("master"),
                        failed: flags.contains("fail") && !flags.contains("fail?"),
                        slots,
                    })
                })
                .collect();
            if !nodes.is_empty() {
                return nodes;
            }
        }
        panic!("no node of the cluster answers CLUSTER NODES");
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    pub fn slot_of(&self, key: &str) -> u16 {
        let port = self.live_ports()[0];
        self.cli(port, &["CLUSTER", "KEYSLOT", key])
            .and_then(|s| s.parse().ok())
            .expect("CLUSTER KEYSLOT")
    }

    /// The master serving `slot`, as the cluster sees it now.
    pub fn master_of(&self, slot: u16) -> ClusterNode {
        self.topology()
            .into_iter()
            .find(|n| {
                n.master && !n.failed && n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
            })
            .unwrap_or_else(|| panic!("no live master serves slot {slot}"))
    }

    /// The masters serving slots now.
    pub fn masters(&self) -> Vec<ClusterNode> {
        self.topology()
            .into_iter()
            .filter(|n| n.master && !n.failed && !n.slots.is_empty())
            .collect()
    }

    /// Kills the node at `port` (SIGKILL, as a crash: nothing saved).
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until every live node says `cluster_state:ok`, a live master
    /// serves each of the 16,384 slots, and every live replica has finished
    /// its sync with its master (so that a master killed next loses
    /// nothing written before); panics after `limit`.
    pub fn wait_until_ok(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        wait_for(limit, || {
            let all_ok = self.live_ports().iter().all(|port| {
                self.cli(*port, &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            });
            let synced = self.live_ports().iter().all(|port| {
                self.cli(*port, &["INFO", "replication"])
                    .is_some_and(|info| {
                        info.contains("role:master")
                            || (info.contains("master_link_status:up")
                                && info.contains("master_sync_in_progress:0"))
                    })
            });
            all_ok && synced && {
                let live = self.live_ports();
                let served: u32 = self
                    .masters()
                    .iter()
                    .filter(|n| live.contains(&n.port))
                    .flat_map(|n| n.slots.iter().map(|(a, b)| u32::from(b - a) + 1))
                    .sum();
                served == 16_384
            }
        });
        started.elapsed()
    }

    /// Moves `slot` from its master to another master, key by key
    /// (`CLUSTER SETSLOT ... IMPORTING / MIGRATING`, `MIGRATE`, then
    /// `SETSLOT ... NODE` on every master), as `redis-cli --cluster
    /// reshard` does. Returns the new owner's port.
    pub fn move_slot(&self, slot: u16) -> u16 {
        let source = self.master_of(slot);
        let target = self
            .masters()
            .into_iter()
            .find(|n| n.id != source.id)
            .expect("another master");
        let slot_text = slot.to_string();
        let ok = |port, args: &[&str]| {
            let answer = self.cli(port, args);
            assert!(answer.is_some(), "{args:?} on {port} failed");
            answer.unwrap()
        };
        ok(
            target.port,
            &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &source.id],
        );
        ok(
            source.port,
            &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &target.id],
        );
        loop {
            let keys = ok(
                source.port,
                &["CLUSTER", "GETKEYSINSLOT", &slot_text, "100"],
            );
            let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let port = target.port.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            args.extend(keys);
            ok(source.port, &args);
        }
        for master in self.masters() {
            ok(
                master.port,
                &["CLUSTER", "SETSLOT", &slot_text, "NODE", &target.id],
            );
        }
        target.port
    }

    /// Lua scripts (`EVALSHA` and `EVAL`) run so far on the nodes still
    /// running (`INFO commandstats`).
    pub fn script_runs(&self) -> u64 {
        self.live_ports()
            .iter()
            .filter_map(|port| self.cli(*port, &["INFO", "commandstats"]))
            .map(|text| crate::redis::script_runs(&text))
            .sum()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `condition` every 50 ms until it holds; panics after `limit`.
fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "not true within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
