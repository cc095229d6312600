//! Journal entries are matched to the CSV's rows by content, not by
//! position: a row inserted above a row left in flight is sent; the row in
//! flight, changed (another card for its cardholder) and moved down, is
//! refused, naming the journal's earlier row and key; and the key left in
//! flight, matching no row any more, is reconcile-required (exit 5), in the
//! report and in `bulk status`.

use std::time::Duration;

use uuid::Uuid;

use crate::support::{
    bulk, card_number, cli, report, run, sent_keys, simulator, wait_for, write_csv, Scratch,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_inserted_above_a_changed_row_in_flight() {
    let server = simulator().start().await.unwrap();
    let base = server.base_url();
    let dir = Scratch::new("moved");
    let (csv, journal, report_path) = (
        dir.path("cards.csv"),
        dir.path("cards.journal"),
        dir.path("report.csv"),
    );
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());

    // Run 1: A's row is sent and held at UQPay; the CLI is SIGKILLed.
    write_csv(&csv, &[(a, card_number(11))]);
    server.hold_requests();
    let mut child = bulk(&base, &dir.0, &csv, &journal, &[]).spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(30), server.wait_for_held(1))
        .await
        .expect("row 1 is sent");
    wait_for(Duration::from_secs(10), "the sent line", || {
        !sent_keys(&journal).is_empty()
    })
    .await;
    child.kill().await.unwrap();
    let _ = child.wait().await;
    server.release();
    let old_key = sent_keys(&journal)[0].1;

    // A row inserted on top; A's card changed.
    write_csv(&csv, &[(b, card_number(12)), (a, card_number(99))]);
    let mut command = bulk(&base, &dir.0, &csv, &journal, &["--report"]);
    command.arg(&report_path);
    let ran = run(command, None).await;
    assert_eq!(ran.code, 5, "{ran:?}");
    // The new row is sent; the changed one is not.
    let card = server.card_by_number(&card_number(12)).expect("row 1 sent");
    assert_eq!(card.cardholder_id, b);
    assert!(
        server.card_by_number(&card_number(99)).is_none(),
        "A's changed row was sent: A may hold two cards"
    );
    assert!(
        ran.stderr.contains("row 2, column cardholder_id")
            && ran.stderr.contains(&old_key.to_string()),
        "{}",
        ran.stderr
    );
    let rows = report(&report_path);
    let status: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["row"].as_str(), r["status"].as_str()))
        .collect();
    assert_eq!(status[0], ("1", "done"), "{rows:?}");
    assert_eq!(status[1], ("2", "failed"), "{rows:?}");
    // The key left in flight is not dropped.
    let orphan = rows
        .iter()
        .find(|r| r["error"].contains(&old_key.to_string()) && r["status"] == "reconcile-required")
        .unwrap_or_else(|| panic!("the key left in flight is in the report: {rows:?}"));
    assert_eq!(orphan["row"], "", "{orphan:?}");
    let summary = ran.json();
    assert_eq!(summary["reconcile_required"], 1, "{summary}");

    let mut status = cli(None, &dir.0, false);
    status.args(["bulk", "status", "--journal"]).arg(&journal);
    let status = run(status, None).await;
    assert_eq!(status.code, 5, "{status:?}");
    assert_eq!(status.json()["reconcile_required"], 1);
}

/// Runs a batch of the rows `first` and SIGKILLs the CLI while a row it
/// sent is held at UQPay (in flight); the key of the last row sent.
async fn killed_with_a_row_in_flight(
    server: &uqpay_mock::MockServer,
    dir: &Scratch,
    first: &[(Uuid, String)],
) -> Uuid {
    let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
    write_csv(&csv, first);
    server.hold_requests();
    let mut child = bulk(&server.base_url(), &dir.0, &csv, &journal, &[])
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), server.wait_for_held(1))
        .await
        .expect("a row is sent");
    child.kill().await.unwrap();
    let _ = child.wait().await;
    server.release();
    sent_keys(&journal).last().unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_in_flight_deleted_and_added_changed_below_a_done_row() {
    let server = simulator().start().await.unwrap();
    let base = server.base_url();
    let dir = Scratch::new("deleted");
    let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
    let (a, x) = (Uuid::new_v4(), Uuid::new_v4());
    write_csv(&csv, &[(x, card_number(21))]);
    let first = run(bulk(&base, &dir.0, &csv, &journal, &[]), None).await;
    assert_eq!(first.code, 0, "{first:?}");
    // A's row added on top, sent, in flight when the CLI is killed.
    let old_key =
        killed_with_a_row_in_flight(&server, &dir, &[(a, card_number(22)), (x, card_number(21))])
            .await;
    // A's row deleted, and added back below X's with another card.
    write_csv(&csv, &[(x, card_number(21)), (a, card_number(98))]);
    let ran = run(bulk(&base, &dir.0, &csv, &journal, &[]), None).await;
    assert!(
        server.card_by_number(&card_number(98)).is_none(),
        "A's changed row was sent: A may hold two cards"
    );
    assert_eq!(ran.code, 5, "{ran:?}");
    assert!(
        ran.stderr.contains("row 2, column cardholder_id")
            && ran.stderr.contains(&old_key.to_string()),
        "{}",
        ran.stderr
    );
    let summary = ran.json();
    assert_eq!(summary["done_earlier"], 1, "{summary}");
    assert_eq!(summary["reconcile_required"], 1, "{summary}");
}
