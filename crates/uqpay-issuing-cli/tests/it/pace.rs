//! Pace: 2,000 rows against a simulator limited to 6000/60s, with
//! `--rate-limit 6000/60s`: no 429, and the time within 10% of what the
//! limit allows when kept evenly (2,000 / 100 a second = 20 s). The
//! journal's cost per row is printed (its writes and fsyncs, timed by the
//! journal's writer).

use std::time::{Duration, Instant};

use uqpay_mock::RateLimits;

use crate::support::{cli, good_csv, run, simulator, Scratch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_rows_at_the_limit_without_429s() {
    const ROWS: u64 = 2000;
    let server = simulator()
        .rate_limits(RateLimits::per_window(6000, Duration::from_secs(60)))
        .start()
        .await
        .unwrap();
    let dir = Scratch::new("pace");
    let csv = dir.path("cards.csv");
    good_csv(&csv, 100_000, ROWS);
    let mut command = cli(Some(&server.base_url()), &dir.0, true);
    command
        .args(["bulk", "assign"])
        .arg(&csv)
        .arg("--journal")
        .arg(dir.path("cards.journal"))
        .args(["--rate-limit", "6000/60s", "--concurrency", "16"]);
    let started = Instant::now();
    let ran = run(command, None).await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(ran.code, 0, "{ran:?}");
    let summary = ran.json();
    assert_eq!(summary["done"], ROWS);
    let stats = server.stats();
    assert_eq!(stats.rate_limited(), 0, "no 429: {stats:?}");
    assert_eq!(server.cards().len() as u64, ROWS);
    let allowed = ROWS as f64 / (6000.0 / 60.0);
    assert!(
        (elapsed - allowed).abs() <= allowed * 0.10,
        "{elapsed:.2} s for {ROWS} rows, the limit allows {allowed:.2} s (±10%)"
    );
    eprintln!(
        "pace: {ROWS} rows in {elapsed:.2} s (the limit allows {allowed:.2} s), 429s: 0; journal: {}",
        summary["journal"]
    );
}
