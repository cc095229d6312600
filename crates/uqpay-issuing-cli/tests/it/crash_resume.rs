//! Crash and resume: 300 rows against a simulator injecting faults into 25%
//! of the card requests (dropped connections after the commit among them),
//! the CLI killed with SIGKILL at three random points and rerun each time
//! with the same journal. At the end every row is assigned exactly once.
//! A batch whose secret is missing is not resumed; with it back, its rows
//! in flight are resent with their keys.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng as _;
use tokio::process::Command;
use uqpay_mock::Fault;
use uuid::Uuid;

use crate::support::{cli, good_csv, report, run, simulator, wait_for, Scratch};

const ROWS: u64 = 300;

/// A batch in a scratch directory: `cards.csv` (good rows) and
/// `cards.journal`, for the simulator at `base`.
struct Batch {
    dir: Scratch,
    base: String,
    csv: PathBuf,
    journal: PathBuf,
}

impl Batch {
    /// `rows` good rows from card number `first`; the batch and its rows'
    /// (cardholder, number).
    fn new(name: &str, base: String, first: u64, rows: u64) -> (Batch, Vec<(Uuid, String)>) {
        let dir = Scratch::new(name);
        let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
        let written = good_csv(&csv, first, rows);
        let batch = Batch {
            dir,
            base,
            csv,
            journal,
        };
        (batch, written)
    }

    /// `bulk assign cards.csv --journal cards.journal EXTRA...`.
    fn assign(&self, extra: &[&str]) -> Command {
        let mut command = cli(Some(&self.base), &self.dir.0, true);
        command
            .args(["bulk", "assign"])
            .arg(&self.csv)
            .arg("--journal")
            .arg(&self.journal)
            .args(extra);
        command
    }

    /// How many lines of the journal are of `event`.
    fn events(&self, event: &str) -> usize {
        journal_events(&self.journal, event)
    }

    /// The keys of the journal's lines of `event`.
    fn keys(&self, event: &str) -> HashSet<Uuid> {
        std::fs::read_to_string(&self.journal)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == event)
            .map(|v| v["key"].as_str().unwrap().parse().unwrap())
            .collect()
    }
}

fn journal_events(path: &Path, event: &str) -> usize {
    let needle = format!("\"event\":\"{event}\"");
    std::fs::read_to_string(path)
        .map(|text| text.lines().filter(|l| l.contains(&needle)).count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_three_times_every_row_is_assigned_exactly_once() {
    let server = simulator()
        .seed(28)
        .random_faults(0.25, Fault::all())
        .start()
        .await
        .unwrap();
    let (batch, rows) = Batch::new("crash", server.base_url(), 1, ROWS);
    let report_path = batch.dir.path("report.csv");

    // Three kill points, by rows done, spread over the batch at random.
    let mut rng = rand::rng();
    let mut points: Vec<usize> = (0..3)
        .map(|i| rng.random_range(20 + i * 90..90 + i * 90))
        .collect();
    points.sort_unstable();
    let command = |report: bool| {
        let pace = ["--rate-limit", "60/1s", "--concurrency", "8"];
        let mut command = batch.assign(&pace);
        if report {
            command.arg("--report").arg(&report_path);
        }
        command
    };
    let mut kills = 0;
    for point in &points {
        let mut child = command(false).spawn().unwrap();
        let done_before = batch.events("done");
        let target = (*point).max(done_before + 5);
        wait_for(Duration::from_secs(60), "rows to be done", || {
            batch.events("done") >= target
        })
        .await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its kill point"
        );
        child.kill().await.unwrap(); // SIGKILL
        kills += 1;
        let _ = child.wait().await;
    }
    assert_eq!(kills, 3);

    let last = run(command(true), None).await;
    assert_eq!(last.code, 0, "{last:?}");
    let summary = last.json();
    assert_eq!(summary["done"], ROWS, "{summary}");
    assert!(summary["done_earlier"].as_u64().unwrap() >= points[2] as u64 - 10);

    // The simulator: exactly the rows' cards, each assigned to its row's
    // cardholder once; no key committed twice.
    let cards = server.cards();
    assert_eq!(cards.len() as u64, ROWS, "cards assigned");
    for (holder, number) in &rows {
        let card = server
            .card_by_number(number)
            .expect("every row's card is assigned");
        assert_eq!(card.cardholder_id, *holder);
    }
    assert!(server.keys_committed_more_than_once().is_empty());
    let stats = server.stats();
    let committed = stats.card_total(|c| c.committed);
    assert_eq!(
        committed, ROWS,
        "one committed assignment per row: {stats:?}"
    );

    // The journal's keys: one per row, each committed once.
    let text = std::fs::read_to_string(&batch.journal).unwrap();
    let keys = batch.keys("done");
    assert_eq!(keys.len() as u64, ROWS);
    assert!(keys.iter().all(|k| server.commits_for_key(*k) == 1));

    let report = report(&report_path);
    assert_eq!(report.len() as u64, ROWS);
    assert!(report
        .iter()
        .all(|r| r["status"] == "done" && !r["card_id"].is_empty()));
    eprintln!(
        "crash/resume: {ROWS} rows, killed at {points:?} rows done, faults injected {:?}, \
         replays {}, {} journal lines",
        stats.faults,
        stats.card_total(|c| c.replayed),
        text.lines().count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_lets_the_calls_in_flight_finish_and_exits_130() {
    const ROWS: u64 = 100;
    let server = simulator().start().await.unwrap();
    let (batch, _) = Batch::new("sigint", server.base_url(), 20_000, ROWS);
    let pace = ["--rate-limit", "20/1s", "--concurrency", "4"];
    let command = || batch.assign(&pace);
    let child = command().spawn().unwrap();
    let pid = child.id().unwrap();
    wait_for(Duration::from_secs(30), "10 rows done", || {
        batch.events("done") >= 10
    })
    .await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the run stops after Ctrl-C")
        .unwrap();
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["interrupted"], true);
    // Every call sent has its outcome journaled: nothing left in flight.
    assert_eq!(batch.events("sent"), batch.events("done"));
    let done = batch.events("done");
    assert!((done as u64) < ROWS, "interrupted before the end");
    assert_eq!(server.cards().len(), done);

    let rest = run(command(), None).await;
    assert_eq!(rest.code, 0, "{rest:?}");
    assert_eq!(rest.json()["done_earlier"], done as u64);
    assert_eq!(server.cards().len() as u64, ROWS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_not_resumed_without_its_secret() {
    const ROWS: u64 = 5;
    // Every card request is committed, then its connection dropped: the
    // rows are assigned in the simulator and in flight in the journal.
    let server = simulator()
        .random_faults(1.0, vec![Fault::DropAfterCommit])
        .start()
        .await
        .unwrap();
    let (batch, _) = Batch::new("no-secret", server.base_url(), 30_000, ROWS);
    let secret = batch.dir.path("cards.journal.secret");
    let command = || batch.assign(&["--max-requeues", "0"]);
    let first = run(command(), None).await;
    assert_eq!(first.code, 6, "{first:?}");
    assert_eq!(first.json()["pending"], ROWS);
    assert_eq!(server.cards().len() as u64, ROWS);
    assert!(secret.exists());

    // Without the secret: refused before anything is sent.
    let kept = batch.dir.path("kept-apart.secret");
    std::fs::rename(&secret, &kept).unwrap();
    server.clear_faults();
    let received = server.card_requests_received();
    let refused = run(command(), None).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("cannot be resumed safely")
            && refused.stderr.contains("bulk status"),
        "{}",
        refused.stderr
    );
    assert_eq!(server.card_requests_received(), received);
    assert!(!secret.exists(), "a missing secret is not made up again");

    // `bulk status` reads the journal alone.
    let mut status = cli(None, &batch.dir.0, false);
    status
        .args(["bulk", "status", "--journal"])
        .arg(&batch.journal);
    let status = run(status, None).await;
    assert_eq!(status.code, 0, "{status:?}");
    assert_eq!(status.json()["in_flight"], ROWS);

    // Back beside the journal (readable by others: a warning), the rows in
    // flight are resent with their keys: replayed, not assigned again.
    std::fs::rename(&kept, &secret).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let resumed = run(command(), None).await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    #[cfg(unix)]
    assert!(
        resumed.stderr.contains("readable by others"),
        "{}",
        resumed.stderr
    );
    assert_eq!(resumed.json()["done"], ROWS);
    assert_eq!(server.cards().len() as u64, ROWS);
    assert!(server.keys_committed_more_than_once().is_empty());
    let keys = batch.keys("sent");
    assert_eq!(keys.len() as u64, ROWS, "one key per row, in both runs");
    assert!(keys
        .iter()
        .all(|k| server.commits_for_key(*k) == 1 && server.replays_for_key(*k) >= 1));
}
