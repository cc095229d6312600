//! Rows left in flight are resent before the new rows, and each row's first
//! sending is checked against the 23-hour window when it is about to be
//! sent, not only when the run is planned: a row whose window closes while
//! it waits its turn is reconcile-required, not sent.

use std::path::Path;

use chrono::{TimeDelta, Utc};
use uqpay_mock::Fault;
use uuid::Uuid;

use crate::support::{
    bulk, card_number, journal_lines, run, sent_keys, simulator, write_csv, Scratch,
};

/// Moves the time of every `sent` line of the journal to `at`, as if the
/// rows had been sent then.
fn sent_at(journal: &Path, at: chrono::DateTime<Utc>) {
    let mut text = String::new();
    for mut line in journal_lines(journal) {
        if line["event"] == "sent" {
            line["at"] = at.to_rfc3339().into();
        }
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(journal, text).unwrap();
}

/// A batch of `in_flight` rows whose every request was committed and its
/// answer lost (so they are in flight in the journal); the rows.
async fn in_flight_rows(
    server: &uqpay_mock::MockServer,
    dir: &Scratch,
    first: u64,
    in_flight: u64,
) -> Vec<(Uuid, String)> {
    let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
    let rows: Vec<(Uuid, String)> = (first..first + in_flight)
        .map(|n| (Uuid::new_v4(), card_number(n)))
        .collect();
    write_csv(&csv, &rows);
    server.set_random_faults(1.0, vec![Fault::DropAfterCommit]);
    let ran = run(
        bulk(
            &server.base_url(),
            &dir.0,
            &csv,
            &journal,
            &["--max-requeues", "0"],
        ),
        None,
    )
    .await;
    assert_eq!(ran.code, 6, "{ran:?}");
    assert_eq!(ran.json()["pending"], in_flight);
    server.clear_faults();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_in_flight_are_resent_first() {
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("resend-first");
    let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
    let old = in_flight_rows(&server, &dir, 40_000, 2).await;
    let resent: Vec<Uuid> = sent_keys(&journal).iter().map(|(_, k)| *k).collect();
    let lines_before = sent_keys(&journal).len();
    // Eight new rows above them.
    let mut rows: Vec<(Uuid, String)> = (40_010..40_018)
        .map(|n| (Uuid::new_v4(), card_number(n)))
        .collect();
    rows.extend(old);
    write_csv(&csv, &rows);
    let ran = run(
        bulk(
            &server.base_url(),
            &dir.0,
            &csv,
            &journal,
            &["--concurrency", "1"],
        ),
        None,
    )
    .await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let second: Vec<Uuid> = sent_keys(&journal)[lines_before..]
        .iter()
        .map(|(_, k)| *k)
        .collect();
    assert_eq!(second.len(), 10);
    assert_eq!(&second[..2], &resent[..], "the rows in flight first");
    assert!(server.keys_committed_more_than_once().is_empty());
    assert_eq!(server.cards().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_closes_while_a_row_waits_is_checked_when_it_is_sent() {
    const ROWS: u64 = 8;
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("resend-window");
    let (csv, journal) = (dir.path("cards.csv"), dir.path("cards.journal"));
    in_flight_rows(&server, &dir, 41_000, ROWS).await;
    // First sent 23 hours less 3 seconds ago: inside the window when the
    // run plans, past it before the last of them is sent at one a second.
    sent_at(
        &journal,
        Utc::now() - TimeDelta::hours(23) + TimeDelta::seconds(3),
    );
    let received = server.card_requests_received();
    let ran = run(
        bulk(
            &server.base_url(),
            &dir.0,
            &csv,
            &journal,
            &["--concurrency", "1", "--rate-limit", "1/1s"],
        ),
        None,
    )
    .await;
    assert_eq!(ran.code, 5, "{ran:?}");
    let summary = ran.json();
    let resent = server.card_requests_received() - received;
    assert!(
        resent < ROWS,
        "every row was resent, past its window: {summary}"
    );
    assert_eq!(summary["done"].as_u64(), Some(resent), "{summary}");
    assert_eq!(
        summary["reconcile_required"].as_u64(),
        Some(ROWS - resent),
        "{summary}"
    );
}
