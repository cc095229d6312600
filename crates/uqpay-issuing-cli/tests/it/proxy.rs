//! A proxy in front of the simulator that forwards every request and, while
//! told to, spoils the 200 answers of Assign Card (their `card_order_id`
//! taken out) after the simulator committed them: an assignment UQPay
//! accepted whose answer the SDK cannot decode.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Response, StatusCode};

/// The proxy: its base URL, and how many more assignments it spoils.
pub struct Proxy {
    /// The base URL to give the CLI (`http://127.0.0.1:PORT/api`).
    pub base_url: String,
    spoil: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Spoils the answers of the next `n` assignments.
    pub fn spoil_next(&self, n: usize) {
        self.spoil.store(n, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Upstream {
    addr: SocketAddr,
    http: reqwest::Client,
    spoil: Arc<AtomicUsize>,
}

/// Starts a proxy in front of the simulator listening on `upstream`.
pub async fn start(upstream: SocketAddr) -> Proxy {
    let spoil = Arc::new(AtomicUsize::new(0));
    let state = Upstream {
        addr: upstream,
        http: reqwest::Client::new(),
        spoil: spoil.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/api", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Proxy {
        base_url,
        spoil,
        _task: task,
    }
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    let mut headers = parts.headers.clone();
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    let answer = upstream
        .http
        .request(parts.method, format!("http://{}{path}", upstream.addr))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = answer else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap();
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let mut bytes = answer.bytes().await.unwrap().to_vec();
    let spoil = path.ends_with("/issuing/cards/assign")
        && status == StatusCode::OK
        && upstream
            .spoil
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if spoil {
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        value.as_object_mut().unwrap().remove("card_order_id");
        bytes = serde_json::to_vec(&value).unwrap();
    }
    let mut response = Response::builder().status(status);
    if let Some(content_type) = content_type {
        response = response.header(header::CONTENT_TYPE, content_type);
    }
    response.body(Body::from(bytes)).unwrap()
}
