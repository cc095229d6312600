//! Secrets: no API key, token or full card number in any output, error,
//! journal or report; the journal keeps a masked number and an HMAC keyed
//! by the batch's secret, and nothing in it or in the report gives a number
//! back to someone hashing candidates.

use uqpay_mock::Fault;
use uuid::Uuid;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

use crate::support::{card_number, cli, good_csv, run, simulator, Ran, Scratch, API_KEY};

/// Fails if `text` holds the API key, a token (a JWT, or the simulator's
/// fixed token) or one of the card numbers.
fn assert_clean(what: &str, text: &str, numbers: &[String], token: &str) {
    assert!(!text.contains(API_KEY), "{what} holds the API key");
    assert!(!text.contains(token), "{what} holds the token");
    assert!(!text.contains("eyJ"), "{what} holds a JWT: {text}");
    for number in numbers {
        assert!(
            !text.contains(number.as_str()),
            "{what} holds the card number {number}"
        );
    }
}

fn assert_ran_clean(ran: &Ran, numbers: &[String], token: &str) {
    assert_clean("stdout", &ran.stdout, numbers, token);
    assert_clean("stderr", &ran.stderr, numbers, token);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What someone holding `text` and hashing candidate numbers would look
/// for: the unkeyed digests of a number (alone, or after the batch id, as
/// version 1 of the journal wrote them) and the unkeyed UUID v5 key of its
/// row. Fails if `text` holds any of them.
fn assert_no_unkeyed_digest(what: &str, text: &str, batch: Uuid, rows: &[(Uuid, String)]) {
    for (holder, number) in rows {
        let salted = hex(&Sha256::new()
            .chain_update(batch.to_string())
            .chain_update(number)
            .finalize());
        let plain = hex(&Sha256::digest(number.as_bytes()));
        let canonical = format!("{}\n{number}\nUSD\nSHARE", holder.hyphenated());
        let unkeyed_key = Uuid::new_v5(&batch, canonical.as_bytes()).to_string();
        for (name, digest) in [
            ("SHA-256(batch id ++ number)", salted),
            ("SHA-256(number)", plain),
            ("the unkeyed row key", unkeyed_key),
        ] {
            assert!(
                !text.contains(&digest),
                "{what} holds {name} of {number}: the number is recoverable"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_output_journal_or_report() {
    let server = simulator()
        .seed(5)
        .random_faults(0.3, Fault::all())
        .start()
        .await
        .unwrap();
    let token = server.token().to_owned();
    let base = server.base_url();
    let dir = Scratch::new("secrets");
    let csv = dir.path("cards.csv");
    let rows = good_csv(&csv, 500, 40);
    let mut numbers: Vec<String> = rows.iter().map(|(_, n)| n.clone()).collect();
    // A bad row echoing a card number in its note, and one refused by
    // validation.
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str(&format!(
        "{},{},usd,SHARE,{}\n",
        Uuid::new_v4(),
        card_number(900),
        card_number(901)
    ));
    std::fs::write(&csv, text).unwrap();
    numbers.push(card_number(900));
    numbers.push(card_number(901));

    let journal = dir.path("j");
    let report = dir.path("r.csv");
    let mut bulk = cli(Some(&base), &dir.0, true);
    bulk.args(["bulk", "assign"])
        .arg(&csv)
        .arg("--journal")
        .arg(&journal)
        .arg("--report")
        .arg(&report);
    let ran = run(bulk, None).await;
    assert_eq!(ran.code, 6, "{ran:?}");
    assert_ran_clean(&ran, &numbers, &token);
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert_clean("the journal", &journal_text, &numbers, &token);
    let report_text = std::fs::read_to_string(&report).unwrap();
    assert_clean("the report", &report_text, &numbers, &token);

    // The journal keeps the masked number and an HMAC keyed by the batch's
    // secret (never printed, 0600, beside the journal); no unkeyed hash.
    let lines: Vec<serde_json::Value> = journal_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["version"], 2);
    let batch: Uuid = lines[0]["batch"].as_str().unwrap().parse().unwrap();
    assert!(!journal_text.contains("card_sha256"), "{journal_text}");
    assert!(journal_text.contains("\"card\":\"409636******0500\""));
    let secret_path = dir.path("j.secret");
    let secret_text = std::fs::read_to_string(&secret_path).unwrap();
    let secret: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&secret_text.trim()[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let first = lines
        .iter()
        .find(|l| l["event"] == "sent" && l["card"] == "409636******0500")
        .expect("row 1 is journaled");
    let keyed = Hmac::<Sha256>::new_from_slice(&secret)
        .unwrap()
        .chain_update(card_number(500))
        .finalize()
        .into_bytes();
    assert_eq!(
        first["card_hmac"],
        hex(&keyed),
        "card_hmac is keyed by the secret"
    );
    for (what, text) in [
        ("the journal", journal_text.as_str()),
        ("the report", report_text.as_str()),
        ("stdout", ran.stdout.as_str()),
        ("stderr", ran.stderr.as_str()),
    ] {
        assert_no_unkeyed_digest(what, text, batch, &rows);
        assert!(
            !text.contains(secret_text.trim()),
            "{what} holds the batch's secret"
        );
    }

    // One card: assigned through stdin, then read, changed, and an error.
    server.clear_faults();
    let number = card_number(777);
    numbers.push(number.clone());
    let mut assign = cli(Some(&base), &dir.0, true);
    assign.args([
        "card",
        "assign",
        "--cardholder-id",
        &Uuid::new_v4().to_string(),
        "--card-currency",
        "USD",
        "--card-mode",
        "SHARE",
    ]);
    let ran = run(assign, Some(format!("{number}\n").as_bytes())).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_ran_clean(&ran, &numbers, &token);
    let card_id = ran.json()["card_id"].as_str().unwrap().to_owned();
    for args in [
        vec!["card", "get", card_id.as_str()],
        vec![
            "card",
            "freeze",
            card_id.as_str(),
            "--reason",
            "card 4096360800000777 lost",
        ],
        vec!["card", "get", &Uuid::nil().to_string()],
    ] {
        let mut command = cli(Some(&base), &dir.0, true);
        command.args(&args);
        let ran = run(command, None).await;
        assert_ran_clean(&ran, &numbers, &token);
    }
    // The same card number again: refused by UQPay as assigned (exit 1).
    let mut again = cli(Some(&base), &dir.0, true);
    again.args([
        "card",
        "assign",
        "--cardholder-id",
        &Uuid::new_v4().to_string(),
        "--card-currency",
        "USD",
        "--card-mode",
        "SHARE",
    ]);
    let ran = run(again, Some(number.as_bytes())).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_ran_clean(&ran, &numbers, &token);

    // A fixed token (UQPAY_API_TOKEN), and a wrong API key.
    let mut fixed = cli(Some(&base), &dir.0, false);
    fixed
        .env("UQPAY_API_TOKEN", &token)
        .args(["card", "get", &card_id]);
    let ran = run(fixed, None).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_ran_clean(&ran, &numbers, &token);
    let mut wrong = cli(Some(&base), &dir.0, false);
    wrong
        .env("UQPAY_CLIENT_ID", crate::support::CLIENT_ID)
        .env("UQPAY_API_KEY", format!("{API_KEY}-wrong"))
        .args(["card", "get", &card_id]);
    let ran = run(wrong, None).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_ran_clean(&ran, &numbers, &token);
    assert!(!ran.stderr.contains("wrong"), "{}", ran.stderr);
}
