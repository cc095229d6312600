//! Bad input: each bad row named by its row and column, nothing sent for
//! it, the good rows done, exit 6; a file that cannot be read at all is
//! exit 2; a name of 27 characters in `card update` is refused before the
//! wire.

use uqpay_mock::Route;
use uuid::Uuid;

use crate::support::{card_number, cli, report, run, simulator, Scratch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_named_and_the_good_ones_done() {
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("bad");
    let csv = dir.path("cards.csv");
    let good = |n: u64| format!("{},{},USD,SHARE,good-{n}\n", Uuid::new_v4(), card_number(n));
    let mut text = String::from("cardholder_id,card_number,card_currency,card_mode,note\n");
    text.push_str(&good(1)); // row 1
    text.push_str(&format!(
        "not-a-uuid,{},USD,SHARE,bad-uuid\n",
        card_number(2)
    )); // row 2
    text.push_str(&good(3)); // row 3
    text.push_str(&format!(
        "{},{},USD,TRIPLE,bad-mode\n",
        Uuid::new_v4(),
        card_number(4)
    )); // row 4
    text.push_str(&format!("{},{},USD\n", Uuid::new_v4(), card_number(5))); // row 5: a missing column
    text.push_str(&format!(
        "{},{},USD,SHARE,dup\n",
        Uuid::new_v4(),
        card_number(1)
    )); // row 6
    text.push_str(&format!("{},12AB,USD,SHARE,bad-number\n", Uuid::new_v4())); // row 7
    text.push_str(&good(8)); // row 8
    std::fs::write(&csv, text).unwrap();
    let report_path = dir.path("report.csv");
    let mut command = cli(Some(&server.base_url()), &dir.0, true);
    command
        .args(["bulk", "assign"])
        .arg(&csv)
        .arg("--journal")
        .arg(dir.path("j"))
        .arg("--report")
        .arg(&report_path);
    let ran = run(command, None).await;
    assert_eq!(ran.code, 6, "{ran:?}");
    for expected in [
        "row 2, column cardholder_id:",
        "row 4, column card_mode: \"TRIPLE\" is not a card mode (SINGLE, SHARE)",
        "row 5, column card_mode: is missing",
        "row 6, column card_number: duplicates the card number of row 1",
        "row 7, column card_number:",
    ] {
        assert!(
            ran.stderr.contains(expected),
            "{expected:?} in {}",
            ran.stderr
        );
    }
    // Nothing sent for the bad rows; the good ones done.
    assert_eq!(server.requests_received(Route::AssignCard), 3);
    assert_eq!(server.cards().len(), 3);
    let report = report(&report_path);
    let status: Vec<(&str, &str)> = report
        .iter()
        .map(|r| (r["row"].as_str(), r["status"].as_str()))
        .collect();
    assert_eq!(
        status,
        [
            ("1", "done"),
            ("2", "failed"),
            ("3", "done"),
            ("4", "failed"),
            ("5", "failed"),
            ("6", "failed"),
            ("7", "failed"),
            ("8", "done")
        ]
    );
    assert_eq!(report[0]["note"], "good-1");
    assert!(report[5]["error"].contains("row 6, column card_number"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_cannot_be_read_are_usage_errors() {
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("unreadable");
    for (name, text, expected) in [
        ("empty.csv", "", "empty"),
        (
            "lacking.csv",
            "cardholder_id,card_number,card_currency\n",
            "lacks column card_mode",
        ),
    ] {
        let path = dir.path(name);
        std::fs::write(&path, text).unwrap();
        let mut command = cli(Some(&server.base_url()), &dir.0, true);
        command
            .args(["bulk", "assign"])
            .arg(&path)
            .arg("--journal")
            .arg(dir.path(&format!("{name}.journal")));
        let ran = run(command, None).await;
        assert_eq!(ran.code, 2, "{name}: {ran:?}");
        assert!(ran.stderr.contains(expected), "{name}: {}", ran.stderr);
    }
    let mut absent = cli(Some(&server.base_url()), &dir.0, true);
    absent
        .args(["bulk", "assign"])
        .arg(dir.path("absent.csv"))
        .arg("--journal")
        .arg(dir.path("absent.journal"));
    assert_eq!(run(absent, None).await.code, 2);
    assert_eq!(server.card_requests_received(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_of_27_characters_is_refused_before_the_wire() {
    let server = simulator().start().await.unwrap();
    let dir = Scratch::new("name");
    let mut command = cli(Some(&server.base_url()), &dir.0, true);
    command.args([
        "card",
        "update",
        &Uuid::new_v4().to_string(),
        "--name-on-card",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZA",
    ]);
    let ran = run(command, None).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("name_on_card") && ran.stderr.contains("26"),
        "{}",
        ran.stderr
    );
    assert_eq!(server.requests_received(Route::UpdateCard), 0);
}
