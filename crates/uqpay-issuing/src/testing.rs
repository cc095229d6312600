//! Servers for the unit tests (tests only): one that answers late, one that
//! accepts connections and never answers (a frozen Redis, a hung proxy).

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use uqpay_issuing_raw::types::UpdateCardResponse;

use crate::client::Client;
use crate::error::Error;

/// A fixed token for clients of these servers.
pub(crate) const TOKEN: &str = "unit-test-token";

/// The answer of an Update Card.
pub(crate) const UPDATE_CARD: &str = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"c0cef051-29c5-4796-b86a-cd5ee34bfad7","card_status":"ACTIVE","order_status":"SUCCESS"}"#;

/// An HTTP server on a free loopback port that answers every request after
/// `delay`: `200` with the body `answer` gives for the request's path.
/// Returns its base URL (`http://127.0.0.1:PORT/api`).
pub(crate) async fn late_server(delay: Duration, answer: fn(&str) -> String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve(stream, delay, answer));
        }
    });
    format!("http://{addr}/api")
}

/// Serves the requests of one connection.
async fn serve(mut stream: TcpStream, delay: Duration, answer: fn(&str) -> String) {
    let mut buffer = Vec::new();
    loop {
        // The head, then as many body bytes as it announces.
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        tokio::time::sleep(delay).await;
        let body = answer(&path);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A server on a free loopback port that accepts connections and never
/// answers (as a Redis stopped with SIGSTOP: the kernel accepts, nothing
/// reads). Returns its address (`127.0.0.1:PORT`).
pub(crate) async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr.to_string()
}

/// The token endpoint's answer: a token living 30 minutes.
pub(crate) fn token_answer() -> String {
    let expired_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1800;
    format!(r#"{{"auth_token":"minted-token","expired_at":{expired_at}}}"#)
}

/// An Update Card (a name) of a card nobody assigned, with the client's
/// settings, or those `customize` sets on the request.
pub(crate) async fn update(
    client: &Client,
    customize: impl FnOnce(crate::cards::update::UpdateCard) -> crate::cards::update::UpdateCard,
) -> Result<UpdateCardResponse, Error> {
    customize(client.update_card(uuid::Uuid::new_v4()).name_on_card("X"))
        .send()
        .await
}
