//! Crash and resume: 300 rows against a simulator injecting faults into 25%
//! of the card requests (dropped connections after the commit among them),
//! the CLI killed with SIGKILL at three random points and rerun each time
//! with the same journal. At the end every row is assigned exactly once.

use std::collections::HashSet;
use std::time::Duration;

use rand::Rng as _;
use uqpay_mock::Fault;
use uuid::Uuid;

use crate::support::{cli, good_csv, report, run, simulator, wait_for, Scratch};

const ROWS: u64 = 300;

fn journal_events(path: &std::path::Path, event: &str) -> usize {
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
    let base = server.base_url();
    let dir = Scratch::new("crash");
    let csv = dir.path("cards.csv");
    let journal = dir.path("cards.journal");
    let report_path = dir.path("report.csv");
    let rows = good_csv(&csv, 1, ROWS);

    // Three kill points, by rows done, spread over the batch at random.
    let mut rng = rand::rng();
    let mut points: Vec<usize> = (0..3)
        .map(|i| rng.random_range(20 + i * 90..90 + i * 90))
        .collect();
    points.sort_unstable();
    let command = |report: bool| {
        let mut command = cli(Some(&base), &dir.0, true);
        command
            .args(["bulk", "assign"])
            .arg(&csv)
            .arg("--journal")
            .arg(&journal)
            .args(["--rate-limit", "60/1s", "--concurrency", "8"]);
        if report {
            command.arg("--report").arg(&report_path);
        }
        command
    };
    let mut kills = 0;
    for point in &points {
        let mut child = command(false).spawn().unwrap();
        let done_before = journal_events(&journal, "done");
        let target = (*point).max(done_before + 5);
        wait_for(Duration::from_secs(60), "rows to be done", || {
            journal_events(&journal, "done") >= target
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
    let text = std::fs::read_to_string(&journal).unwrap();
    let keys: HashSet<Uuid> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "done")
        .map(|v| v["key"].as_str().unwrap().parse().unwrap())
        .collect();
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
    let base = server.base_url();
    let dir = Scratch::new("sigint");
    let csv = dir.path("cards.csv");
    let journal = dir.path("cards.journal");
    good_csv(&csv, 20_000, ROWS);
    let command = || {
        let mut command = cli(Some(&base), &dir.0, true);
        command
            .args(["bulk", "assign"])
            .arg(&csv)
            .arg("--journal")
            .arg(&journal)
            .args(["--rate-limit", "20/1s", "--concurrency", "4"]);
        command
    };
    let child = command().spawn().unwrap();
    let pid = child.id().unwrap();
    wait_for(Duration::from_secs(30), "10 rows done", || {
        journal_events(&journal, "done") >= 10
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
    assert_eq!(
        journal_events(&journal, "sent"),
        journal_events(&journal, "done")
    );
    let done = journal_events(&journal, "done");
    assert!((done as u64) < ROWS, "interrupted before the end");
    assert_eq!(server.cards().len(), done);

    let rest = run(command(), None).await;
    assert_eq!(rest.code, 0, "{rest:?}");
    assert_eq!(rest.json()["done_earlier"], done as u64);
    assert_eq!(server.cards().len() as u64, ROWS);
}
