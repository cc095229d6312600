//! Helpers: the simulator, the CLI as a child process, CSV files, polling.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;
use uqpay_mock::{MockServer, MockServerBuilder};
use uuid::Uuid;

/// The simulator's credentials in these tests.
pub const CLIENT_ID: &str = "cli-test-client";
/// The API key (checked for in every output by the secrets tests).
pub const API_KEY: &str = "cli-test-key-6b1f0c9e8d7a";

/// The CLI binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_uqpay-issuing"))
}

/// A simulator with the test credentials.
pub fn simulator() -> MockServerBuilder {
    MockServer::builder().credentials(CLIENT_ID, API_KEY)
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new one.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-it-{name}-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// A path inside it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The CLI, with a clean environment: the test credentials (unless
/// `credentials` is false), a config directory of its own, no colour.
pub fn cli(base_url: Option<&str>, config_dir: &Path, credentials: bool) -> Command {
    let mut command = Command::new(bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("UQPAY_") {
            command.env_remove(name);
        }
    }
    command
        .env("UQPAY_CONFIG_DIR", config_dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if credentials {
        command
            .env("UQPAY_CLIENT_ID", CLIENT_ID)
            .env("UQPAY_API_KEY", API_KEY);
    }
    if let Some(url) = base_url {
        command.arg("--base-url").arg(url);
    }
    command
}

/// What a finished run gave.
#[derive(Debug)]
pub struct Ran {
    /// The exit code.
    pub code: i32,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Ran {
    /// stdout parsed as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Runs `command` to its end (at most 120 s), feeding `stdin`.
pub async fn run(mut command: Command, stdin: Option<&[u8]>) -> Ran {
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("the CLI starts");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).await.unwrap();
        drop(pipe);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the CLI ends within 120 s")
        .unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits for `condition`, polling every 10 ms, for at most `limit`.
pub async fn wait_for(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A card number of the simulator's test range: BIN 40963608, then `n`.
pub fn card_number(n: u64) -> String {
    format!("40963608{n:08}")
}

/// Writes a CSV of `rows` good rows (cardholder, number n, USD, SHARE, a
/// note column); returns the path and the rows' (cardholder, number).
pub fn good_csv(path: &Path, first: u64, rows: u64) -> Vec<(Uuid, String)> {
    let mut text = String::from("cardholder_id,card_number,card_currency,card_mode,note\n");
    let mut out = Vec::new();
    for n in first..first + rows {
        let holder = Uuid::new_v4();
        let number = card_number(n);
        text.push_str(&format!("{holder},{number},USD,SHARE,note-{n}\n"));
        out.push((holder, number));
    }
    std::fs::write(path, text).unwrap();
    out
}

/// The records of a report (CSV with a header), as maps.
pub fn report(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// `bulk assign CSV --journal JOURNAL EXTRA...` against `base`, in `dir`'s
/// config directory.
pub fn bulk(base: &str, dir: &Path, csv: &Path, journal: &Path, extra: &[&str]) -> Command {
    let mut command = cli(Some(base), dir, true);
    command
        .args(["bulk", "assign"])
        .arg(csv)
        .arg("--journal")
        .arg(journal)
        .args(extra);
    command
}

/// Writes a CSV (with a `note` column) of these (cardholder, number) rows.
pub fn write_csv(path: &Path, rows: &[(Uuid, String)]) {
    let mut text = String::from("cardholder_id,card_number,card_currency,card_mode,note\n");
    for (i, (holder, number)) in rows.iter().enumerate() {
        text.push_str(&format!("{holder},{number},USD,SHARE,note-{i}\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// The journal's lines, parsed (lines that do not parse are left out).
pub fn journal_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The keys of the journal's `sent` lines, in order, with their rows.
pub fn sent_keys(path: &Path) -> Vec<(u64, Uuid)> {
    journal_lines(path)
        .iter()
        .filter(|l| l["event"] == "sent")
        .map(|l| {
            (
                l["row"].as_u64().unwrap(),
                l["key"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// A TCP port of 127.0.0.1 that nothing listens on (bound, then let go).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
