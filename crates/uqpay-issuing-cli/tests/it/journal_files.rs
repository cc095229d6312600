//! The files beside a batch: the report never written over the journal,
//! one run at a time on a journal, a secret left by a first run that
//! stopped before its batch line reused, and another batch's secret
//! refused.

use std::time::Duration;

use crate::support::{bulk, good_csv, journal_lines, run, simulator, Scratch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_never_takes_the_journals_place() {
    let server = simulator().start().await.unwrap();
    let base = server.base_url();
    let dir = Scratch::new("report-path");
    let csv = dir.path("cards.csv");
    good_csv(&csv, 50_000, 3);
    // The report's temporary file was run.tmp: the journal's name here.
    let journal = dir.path("run.tmp");
    let mut command = bulk(&base, &dir.0, &csv, &journal, &["--report"]);
    command.arg(dir.path("run.csv"));
    let ran = run(command, None).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let lines = journal_lines(&journal);
    assert_eq!(
        lines.first().map(|l| l["event"].clone()),
        Some("batch".into())
    );
    assert_eq!(lines.iter().filter(|l| l["event"] == "done").count(), 3);
    assert_eq!(crate::support::report(&dir.path("run.csv")).len(), 3);
    // A report named x.tmp is written, and nothing is left beside it.
    let mut command = bulk(&base, &dir.0, &csv, &journal, &["--report"]);
    command.arg(dir.path("x.tmp"));
    assert_eq!(run(command, None).await.code, 0);
    assert_eq!(crate::support::report(&dir.path("x.tmp")).len(), 3);
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The report over the journal, or over its secret: refused.
    for target in [journal.clone(), dir.path("run.tmp.secret")] {
        let before = std::fs::read(&target).unwrap();
        let mut command = bulk(&base, &dir.0, &csv, &journal, &["--report"]);
        command.arg(&target);
        let ran = run(command, None).await;
        assert_eq!(ran.code, 2, "{ran:?}");
        assert_eq!(std::fs::read(&target).unwrap(), before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_journal_is_refused() {
    let server = simulator().start().await.unwrap();
    let base = server.base_url();
    let dir = Scratch::new("lock");
    let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
    good_csv(&csv, 51_000, 2);
    server.hold_requests();
    let first = bulk(&base, &dir.0, &csv, &journal, &[]).spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(30), server.wait_for_held(2))
        .await
        .expect("the first run sends both rows");
    let received = server.card_requests_received();
    let second = tokio::time::timeout(
        Duration::from_secs(20),
        run(bulk(&base, &dir.0, &csv, &journal, &[]), None),
    )
    .await
    .expect("the second run ends at once: another run holds the journal");
    assert_eq!(second.code, 2, "{second:?}");
    assert!(second.stderr.contains("another run"), "{}", second.stderr);
    assert_eq!(server.card_requests_received(), received);
    server.release();
    let first = tokio::time::timeout(Duration::from_secs(60), first.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert_eq!(server.cards().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_without_a_batch_line_is_reused() {
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("secret-reuse");
    let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
    good_csv(&csv, 52_000, 2);
    // A first run that stopped after making the secret, before the batch line.
    let secret = dir.path("cards.journal.secret");
    let text = format!("{}\n", "5a".repeat(32));
    std::fs::write(&secret, &text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(&journal, "").unwrap();
    let ran = run(bulk(&server.base_url(), &dir.0, &csv, &journal, &[]), None).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), text);
    assert_eq!(server.cards().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_batchs_secret_is_refused() {
    let server = simulator().start().await.unwrap();
    let base = server.base_url();
    let dir = Scratch::new("secret-swap");
    let csv = dir.path("cards.csv");
    good_csv(&csv, 53_000, 2);
    let (one, two) = (dir.path("one.journal"), dir.path("two.journal"));
    assert_eq!(
        run(bulk(&base, &dir.0, &csv, &one, &[]), None).await.code,
        0
    );
    let other = dir.path("other.csv");
    good_csv(&other, 53_100, 1);
    assert_eq!(
        run(bulk(&base, &dir.0, &other, &two, &[]), None).await.code,
        0
    );
    std::fs::copy(
        dir.path("two.journal.secret"),
        dir.path("one.journal.secret"),
    )
    .unwrap();
    let received = server.card_requests_received();
    let ran = run(bulk(&base, &dir.0, &csv, &one, &[]), None).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("does not match") && ran.stderr.contains("secret"),
        "{}",
        ran.stderr
    );
    assert_eq!(server.card_requests_received(), received);
}
