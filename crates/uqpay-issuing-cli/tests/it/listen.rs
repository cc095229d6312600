//! `webhook listen`: the simulator delivers to it, it forwards to a
//! receiver; every event printed once, a redelivery dropped, a forged
//! delivery refused with a 4xx and not forwarded. And `webhook verify`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use uqpay_issuing::webhooks::sign;
use uqpay_issuing::{CardMode, CardStatus, Client};
use uuid::Uuid;

use crate::support::{card_number, cli, run, simulator, wait_for, Scratch, API_KEY, CLIENT_ID};

const SECRET: &str = "whsec_cli_listen_test";

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver recording every POST.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let store = store.clone();
        async move {
            store.lock().unwrap().push((headers, body));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/downstream"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_printed_once_forwarded_and_forgeries_refused() {
    let (downstream, received) = receiver().await;
    let dir = Scratch::new("listen");
    let mut command = cli(None, &dir.0, false);
    command.env("UQPAY_WEBHOOK_SECRET", SECRET).args([
        "-o",
        "ndjson",
        "webhook",
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--forward-to",
        &downstream,
    ]);
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = first
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("first line: {first}"))
        .to_owned();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let sink = lines.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stdout.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });

    let server = simulator()
        .webhook(format!("http://{addr}/uqpay/webhooks"), SECRET)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .credentials(CLIENT_ID, API_KEY)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let mut cards = Vec::new();
    for n in 0..3 {
        let card = client
            .assign_card()
            .cardholder_id(Uuid::new_v4())
            .card_number(card_number(3000 + n))
            .card_currency("USD")
            .card_mode(CardMode::Share)
            .send()
            .await
            .unwrap();
        cards.push(card.card_id);
    }
    client
        .update_card_status(cards[0])
        .card_status(CardStatus::Frozen)
        .send()
        .await
        .unwrap();
    server.wait_for_deliveries().await;
    let deliveries = server.deliveries();
    assert_eq!(deliveries.len(), 4);
    assert!(deliveries.iter().all(|d| d.delivered));
    wait_for(Duration::from_secs(10), "4 events printed", || {
        lines.lock().unwrap().len() >= 4
    })
    .await;
    assert_eq!(received.lock().unwrap().len(), 4);

    // A redelivery (the same body and headers again): acknowledged, dropped.
    let (headers, body) = received.lock().unwrap()[0].clone();
    let http = reqwest::Client::new();
    let mut again = http.post(format!("http://{addr}/again")).body(body.clone());
    for name in ["x-wk-signature", "x-wk-timestamp", "content-type"] {
        if let Some(value) = headers.get(name) {
            again = again.header(name, value.to_str().unwrap());
        }
    }
    assert_eq!(again.send().await.unwrap().status(), 200);
    // A forgery: the same body signed with another secret.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let forged = http
        .post(format!("http://{addr}/"))
        .header("x-wk-timestamp", &now)
        .header("x-wk-signature", sign("whsec_not_the_secret", &body, &now))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_client_error(), "{}", forged.status());
    // Forwarding is unchanged: the body and the signature headers as sent.
    let (forwarded_headers, forwarded_body) = received.lock().unwrap()[0].clone();
    assert_eq!(forwarded_body, body);
    assert!(forwarded_headers.contains_key("x-wk-signature"));

    // One more valid event, to know that everything before it was handled.
    client
        .update_card_status(cards[1])
        .card_status(CardStatus::Frozen)
        .send()
        .await
        .unwrap();
    server.wait_for_deliveries().await;
    wait_for(Duration::from_secs(10), "the 5th event", || {
        lines.lock().unwrap().len() >= 5
    })
    .await;
    child.kill().await.unwrap();
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(
        received.lock().unwrap().len(),
        5,
        "the forgery and the redelivery were not forwarded"
    );
    let printed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<&str> = printed
        .iter()
        .map(|v| v["event_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each event printed once");
    let expected: std::collections::HashSet<String> = server
        .deliveries()
        .into_iter()
        .map(|d| d.event_id)
        .collect();
    assert!(ids.iter().all(|id| expected.contains(*id)));
    for event in &printed {
        assert_eq!(event["event_name"], "ISSUING");
        assert!(event["card_id"].is_string(), "{event}");
        assert_eq!(event["forward_status"], 200);
    }
    assert!(
        printed
            .iter()
            .any(|e| e["event_type"] == "card.status.update.succeeded"
                && e["card_status"] == "FROZEN")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_exits_0_or_1() {
    let dir = Scratch::new("verify");
    let body = br#"{"version":"V1.6.0","event_name":"ISSUING","event_type":"card.activation.status","event_id":"e1","source_id":"c1","data":{"card_id":"c1"}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let signature = sign(SECRET, body, &now);
    let verify = |secret: Option<&str>, body: &[u8], signature: &str| {
        let mut command = cli(None, &dir.0, false);
        if let Some(secret) = secret {
            command.env("UQPAY_WEBHOOK_SECRET", secret);
        }
        command.args([
            "webhook",
            "verify",
            "--timestamp",
            &now,
            "--signature",
            signature,
        ]);
        let body = body.to_vec();
        async move { run(command, Some(&body)).await }
    };
    let ok = verify(Some(SECRET), body, &signature).await;
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(ok.json()["event_id"], "e1");
    let tampered = body
        .to_vec()
        .iter()
        .map(|b| if *b == b'1' { b'2' } else { *b })
        .collect::<Vec<_>>();
    let bad = verify(Some(SECRET), &tampered, &signature).await;
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(!bad.stderr.contains(SECRET));
    assert_eq!(verify(None, body, &signature).await.code, 2);
}
