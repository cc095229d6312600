//! An assignment UQPay accepted (HTTP 200) whose answer does not decode is
//! done at UQPay: the row is reconcile-required (exit 5), with its key and
//! the card read from the answer; a rerun sends nothing for it, and a row
//! that swaps another card in for that cardholder is refused.

use uuid::Uuid;

use crate::proxy;
use crate::support::{bulk, card_number, report, run, sent_keys, simulator, write_csv, Scratch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_that_does_not_decode_is_reconcile_required_not_failed() {
    let server = simulator().start().await.unwrap();
    let proxy = proxy::start(server.addr()).await;
    let dir = Scratch::new("answered");
    let (csv, journal, report_path) = (
        dir.path("cards.csv"),
        dir.path("cards.journal"),
        dir.path("report.csv"),
    );
    let (holder, other) = (Uuid::new_v4(), Uuid::new_v4());
    write_csv(&csv, &[(holder, card_number(1)), (other, card_number(2))]);
    let command = || {
        let mut command = bulk(
            &proxy.base_url,
            &dir.0,
            &csv,
            &journal,
            &["--concurrency", "1", "--report"],
        );
        command.arg(&report_path);
        command
    };

    // Row 1's answer is spoiled: UQPay assigned the card, the CLI cannot
    // read the answer.
    proxy.spoil_next(1);
    let first = run(command(), None).await;
    assert_eq!(first.code, 5, "{first:?}");
    let summary = first.json();
    assert_eq!(
        (
            summary["done"].as_u64(),
            summary["reconcile_required"].as_u64(),
            summary["failed"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{summary}"
    );
    let card = server
        .card_by_number(&card_number(1))
        .expect("assigned at UQPay");
    assert_eq!(card.cardholder_id, holder);
    let key = sent_keys(&journal)
        .into_iter()
        .find(|(row, _)| *row == 1)
        .unwrap()
        .1;
    let rows = report(&report_path);
    assert_eq!(rows[0]["status"], "reconcile-required", "{rows:?}");
    assert_eq!(rows[0]["card_id"], card.card_id.to_string(), "{rows:?}");
    assert!(rows[0]["error"].contains(&key.to_string()), "{rows:?}");
    assert_eq!(rows[1]["status"], "done");
    assert!(first.stderr.contains(&key.to_string()), "{}", first.stderr);

    // A rerun sends nothing for it (nor under another key), and says so again.
    let received = server.card_requests_received();
    let again = run(command(), None).await;
    assert_eq!(again.code, 5, "{again:?}");
    assert_eq!(server.card_requests_received(), received);
    assert_eq!(again.json()["reconcile_required"], 1);

    // Another card swapped in for that cardholder: refused, nothing sent.
    write_csv(&csv, &[(holder, card_number(3)), (other, card_number(2))]);
    let swapped = run(command(), None).await;
    assert_ne!(swapped.code, 0, "{swapped:?}");
    assert_eq!(server.card_requests_received(), received, "{swapped:?}");
    assert!(server.card_by_number(&card_number(3)).is_none());
    assert!(
        swapped.stderr.contains("row 1, column cardholder_id"),
        "{}",
        swapped.stderr
    );
    assert!(
        swapped.stderr.contains(&key.to_string()),
        "{}",
        swapped.stderr
    );
}
