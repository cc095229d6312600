//! The simulator over long runs: what it keeps per committed request, and
//! the bounds on its idempotency records.

use std::io::BufRead as _;
use std::time::Duration;

use uqpay_mock::MockServer;
use uuid::Uuid;

const TOKEN: &str = "long-run-token";

/// The resident memory of process `pid`, in bytes (Linux).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

struct Binary(std::process::Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Each committed request used to pin the ~10 KiB read buffer its body was
/// a slice of (50,000 updates: 29 MB -> 529 MB). The record now keeps a
/// digest of the request and the answer; this bounds what stays per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_request_keeps_well_under_a_kilobyte() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_uqpay-mock"))
        .args(["--addr", "127.0.0.1:0", "--token", TOKEN])
        .args(["--client-id", "c", "--api-key", "k"])
        // The event log at its bound (reached during the warm-up): what
        // grows is the idempotency records alone.
        .args(["--event-capacity", "1000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let binary = Binary(child);
    // Kept open for as long as the simulator runs.
    let mut lines = std::io::BufReader::new(stdout).lines();
    let base = lines.next().unwrap().unwrap();
    let http = reqwest::Client::new();
    let auth = format!("Bearer {TOKEN}");
    let assign = http
        .post(format!("{base}/v1/issuing/cards/assign"))
        .header("x-auth-token", &auth)
        .header("x-idempotency-key", Uuid::new_v4().to_string())
        .json(
            &serde_json::json!({"cardholder_id": Uuid::new_v4(), "card_number": "4096360800133951",
            "card_currency": "USD", "card_mode": "SHARE"}),
        )
        .send()
        .await
        .unwrap();
    let card: serde_json::Value = assign.json().await.unwrap();
    let url = format!(
        "{base}/v1/issuing/cards/{}",
        card["card_id"].as_str().unwrap()
    );
    // A realistic body (about 400 bytes, as the docs' example).
    let body = serde_json::json!({
        "card_limit": 2100.02, "name_on_card": "MARSHALL HU", "no_pin_payment_amount": 100,
        "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
        "risk_controls": {"enable_3ds": "Y", "allow_3ds_transactions": "Y", "blocked_mcc": ["5999", "6011"]},
        "metadata": {"key1": "value1", "key2": "value2"}
    })
    .to_string();
    let send = |n: usize| {
        let (http, url, auth, body) = (http.clone(), url.clone(), auth.clone(), body.clone());
        async move {
            for _ in 0..n {
                let answer = http
                    .post(&url)
                    .header("x-auth-token", &auth)
                    .header("x-idempotency-key", Uuid::new_v4().to_string())
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(answer.status().is_success());
                answer.bytes().await.unwrap();
            }
        }
    };
    // Warm up (connections, allocator arenas, the event log to its
    // bound), then measure.
    futures::future::join_all((0..8).map(|_| send(250))).await;
    let before = rss(binary.0.id());
    const REQUESTS: usize = 8 * 1250;
    futures::future::join_all((0..8).map(|_| send(REQUESTS / 8))).await;
    let after = rss(binary.0.id());
    let per_request = after.saturating_sub(before) / REQUESTS as u64;
    println!("simulator memory: {per_request} bytes per committed request ({before} -> {after} bytes RSS)");
    assert!(
        per_request < 1024,
        "{per_request} bytes kept per committed request"
    );
}

#[tokio::test]
async fn records_past_the_day_and_beyond_the_capacity_are_dropped() {
    let server = MockServer::builder()
        .token(TOKEN)
        .idempotency_capacity(50)
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let assign = |n: u64| {
        let http = http.clone();
        let url = format!("{}/v1/issuing/cards/assign", server.base_url());
        async move {
            let key = Uuid::new_v4();
            let answer = http
                .post(url)
                .header("x-auth-token", format!("Bearer {TOKEN}"))
                .header("x-idempotency-key", key.to_string())
                .json(&serde_json::json!({"cardholder_id": Uuid::new_v4(),
                    "card_number": format!("40963608{n:08}"), "card_currency": "USD", "card_mode": "SINGLE"}))
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_success());
            key
        }
    };
    let first = assign(0).await;
    for n in 1..40 {
        assign(n).await;
    }
    assert_eq!(server.idempotency_records(), 40);
    assert_eq!(server.replays_for_key(first), 0);
    // Past the 24-hour window, the next request drops them all.
    server.advance_clock(Duration::from_secs(24 * 3600 + 1));
    assign(40).await;
    assert_eq!(server.idempotency_records(), 1);
    // Beyond the capacity, the oldest go first.
    for n in 41..100 {
        assign(n).await;
    }
    assert_eq!(server.idempotency_records(), 50);
    assert_eq!(server.commits_for_key(first), 0, "long forgotten");
}

#[tokio::test]
async fn the_event_log_keeps_the_last_settled_events() {
    let server = MockServer::builder()
        .token(TOKEN)
        .event_capacity(10)
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for n in 0..30u64 {
        let answer = http
            .post(format!("{}/v1/issuing/cards/assign", server.base_url()))
            .header("x-auth-token", format!("Bearer {TOKEN}"))
            .header("x-idempotency-key", Uuid::new_v4().to_string())
            .json(&serde_json::json!({"cardholder_id": Uuid::new_v4(),
                "card_number": format!("40963608{n:08}"), "card_currency": "USD", "card_mode": "SINGLE"}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    let kept = server.deliveries();
    assert_eq!(kept.len(), 10);
    // The last ones: the 30th card's event is the newest.
    let last_card = server.card_by_number("4096360800000029").unwrap();
    assert_eq!(kept.last().unwrap().card_id, last_card.card_id.to_string());
    assert_eq!(server.cards().len(), 30, "cards are never dropped");
}
