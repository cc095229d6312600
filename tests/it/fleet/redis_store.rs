//! `RedisTokenStore`'s hard cases (the second hardening pass, issue 15): a
//! cancelled call never stalls the fleet or loses the token it was
//! minting, an entry the store cannot read is replaced (never spun on), a
//! lock shorter than the mint does not make replicas fight, and a slow
//! Redis does not fail calls whose replica holds a valid token.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use uqpay_e2e::{RedisServer, Script, ScriptedServer};
use uqpay_issuing::{Client, ClientBuilder, RedisTokenStore};
use uuid::Uuid;

use crate::support::{
    minting_client, paced, token_answer, token_server, unix_now, update, MINTING_ID,
};

fn redis_replica(server: &ScriptedServer, redis: &RedisServer) -> ClientBuilder {
    minting_client(server).token_store(RedisTokenStore::new(&redis.url()).unwrap())
}

/// The fleet's token entry: `<namespace>:{<client id>}:token` (the layout
/// of RedisTokenStore since its cluster support).
fn token_key() -> String {
    format!("uqpay-issuing:{{{MINTING_ID}}}:token")
}

/// The entry of version 0.1.0, which the store keeps beside the other on a
/// single server (for a rolling upgrade) and reads too.
fn legacy_token_key() -> String {
    format!("uqpay-issuing:token:{MINTING_ID}")
}

/// `EXISTS` of the fleet's mint lock and of 0.1.0's beside it: "0" when
/// neither is held.
fn lock_held(redis: &RedisServer) -> String {
    let lock = format!("uqpay-issuing:{{{MINTING_ID}}}:lock");
    let legacy = format!("{}:lock", legacy_token_key());
    redis.cli(&["EXISTS", &lock, &legacy])
}

/// Polls `condition` every 20 ms until it holds; panics after `limit`.
async fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_while_minting_leaves_the_token_stored_and_the_lock_free() {
    let _paced = paced().await;
    let redis = RedisServer::start();
    let (server, minted) = token_server(|_| {
        Script::Delay(
            Duration::from_secs(2),
            token_answer("tok-slow", unix_now() + 1800),
        )
    })
    .await;
    let a = redis_replica(&server, &redis).build().unwrap();
    // A's call starts the fleet's mint and is cut at 500 ms.
    let cut = a
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .deadline(Duration::from_millis(500))
        .send()
        .await
        .unwrap_err();
    assert!(cut.is_retryable(), "{cut}");
    // The mint goes on without it: UQPay's token reaches Redis, the lock is
    // handed back.
    eventually(Duration::from_secs(5), "the minted token is stored", || {
        !redis.cli(&["GET", &token_key()]).is_empty()
    })
    .await;
    eventually(Duration::from_secs(5), "the mint lock is released", || {
        lock_held(&redis) == "0"
    })
    .await;
    // Another replica uses the stored token at once: no second mint.
    let b = redis_replica(&server, &redis).build().unwrap();
    b.update_card(Uuid::new_v4())
        .name_on_card("X")
        .deadline(Duration::from_secs(3))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.load(Ordering::SeqCst), 1);
    assert!(server
        .card_requests()
        .iter()
        .all(|s| s.header("x-auth-token") == "Bearer tok-slow"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_keep_going_with_their_valid_token_while_a_slow_renewal_runs() {
    let _paced = paced().await;
    let redis = RedisServer::start();
    // The first token lives ~6 s (renewed after ~2.5 s); its renewal takes 1.5 s.
    let (server, minted) = token_server(|n| match n {
        0 => Script::Answer(token_answer("tok-1", unix_now() + 6)),
        _ => Script::Delay(
            Duration::from_millis(1500),
            token_answer("tok-2", unix_now() + 1800),
        ),
    })
    .await;
    let client = redis_replica(&server, &redis).build().unwrap();
    let started = Instant::now();
    let mut failures = Vec::new();
    while started.elapsed() < Duration::from_millis(5200) {
        let call = client
            .update_card(Uuid::new_v4())
            .name_on_card("X")
            .timeout(Duration::from_secs(1))
            .max_retries(0)
            .send();
        if let Err(error) = call.await {
            failures.push((started.elapsed(), error.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        failures.is_empty(),
        "calls failed during the renewal: {failures:?}"
    );
    assert_eq!(minted.load(Ordering::SeqCst), 2, "one renewal");
    let cards = server.card_requests();
    assert_eq!(
        cards.last().unwrap().header("x-auth-token"),
        "Bearer tok-2",
        "the renewed token is in use"
    );
    assert_eq!(lock_held(&redis), "0", "the lock is free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_token_entry_is_replaced_not_spun_on() {
    let redis = RedisServer::start();
    let (server, minted) =
        token_server(|_| Script::Answer(token_answer("tok-ok", unix_now() + 1800))).await;
    let client = redis_replica(&server, &redis)
        .timeout(Duration::from_secs(2))
        .max_retries(0)
        .build()
        .unwrap();
    update(&client).await.unwrap();
    let far = (unix_now() + 1800) * 1000;
    for unreadable in [
        "written by hand".to_owned(),
        // Another version's entry, or a token that is no header value.
        format!(
            r#"{{"token":"bad\nvalue","expires_at_ms":{far},"renew_at_ms":{far},"generation":7}}"#
        ),
    ] {
        // Both entries the store reads: with either readable, it would
        // have no reason to replace the other.
        redis.cli(&["SET", &token_key(), &unreadable]);
        redis.cli(&["SET", &legacy_token_key(), &unreadable]);
        let before = redis.commands_processed();
        for _ in 0..20 {
            update(&client).await.unwrap();
        }
        let commands = redis.commands_processed() - before;
        // A handful per call (the read, and once the rewrite under the
        // lock), not thousands.
        assert!(commands < 100, "{commands} Redis commands for 20 calls");
        let stored = redis.cli(&["GET", &token_key()]);
        let entry: serde_json::Value = serde_json::from_str(&stored)
            .unwrap_or_else(|_| panic!("the entry was not rewritten: {stored:?}"));
        assert_eq!(entry["token"], "tok-ok", "the held token was written back");
    }
    // The replica's valid token was written back: no new mint.
    assert_eq!(minted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_shorter_than_the_mint_does_not_make_replicas_fight() {
    let _paced = paced().await;
    let redis = RedisServer::start();
    let (server, minted) = token_server(|n| {
        Script::Delay(
            Duration::from_millis(2500),
            token_answer(&format!("tok-{n}"), unix_now() + 1800),
        )
    })
    .await;
    let replicas: Vec<Client> = (0..8)
        .map(|_| {
            minting_client(&server)
                .token_store(
                    RedisTokenStore::new(&redis.url())
                        .unwrap()
                        .lock_ttl(Duration::from_millis(500)),
                )
                .deadline(Duration::from_secs(10))
                .build()
                .unwrap()
        })
        .collect();
    let calls = replicas.iter().map(update);
    let results = futures::future::join_all(calls).await;
    for result in results {
        result.unwrap();
    }
    assert_eq!(minted.load(Ordering::SeqCst), 1, "one mint for the fleet");
    assert!(server
        .card_requests()
        .iter()
        .all(|s| s.header("x-auth-token") == "Bearer tok-0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_does_not_fail_calls_whose_replica_holds_a_valid_token() {
    let _paced = paced().await;
    let redis = RedisServer::start();
    let (server, _) =
        token_server(|_| Script::Answer(token_answer("tok-held", unix_now() + 1800))).await;
    let client = redis_replica(&server, &redis).build().unwrap();
    update(&client).await.unwrap();
    redis.pause();
    let started = Instant::now();
    let mut results = Vec::new();
    for _ in 0..10 {
        results.push(
            client
                .update_card(Uuid::new_v4())
                .name_on_card("X")
                .timeout(Duration::from_millis(300))
                .max_retries(0)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        );
    }
    let took = started.elapsed();
    redis.resume();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // Not the full Redis operation timeout (1 s) per call.
    assert!(took < Duration::from_secs(3), "10 calls took {took:?}");
}

/// A mint that lost its lock (issue 25.2): A's mint takes 2.5 s under a
/// lock of 1 s; meanwhile the lock key is lost (a failover that drops it)
/// and B takes the lock and stores a newer token. When A's slow mint ends,
/// its token (which B's mint voided at UQPay) must not replace B's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mint_that_lost_its_lock_does_not_overwrite_a_newer_token() {
    let _paced = paced().await;
    let redis = RedisServer::start();
    let (server, minted) = token_server(|n| {
        if n == 0 {
            Script::Delay(
                Duration::from_millis(2500),
                token_answer("tok-old", unix_now() + 1800),
            )
        } else {
            Script::Answer(token_answer("tok-new", unix_now() + 1800))
        }
    })
    .await;
    let replica = || {
        minting_client(&server)
            .token_store(
                RedisTokenStore::new(&redis.url())
                    .unwrap()
                    .lock_ttl(Duration::from_secs(1)),
            )
            .build()
            .unwrap()
    };
    let (a, b) = (replica(), replica());
    let a_call = tokio::spawn(async move { update(&a).await });
    eventually(Duration::from_secs(5), "A holds the mint lock", || {
        lock_held(&redis) != "0"
    })
    .await;
    let lock = format!("uqpay-issuing:{{{MINTING_ID}}}:lock");
    redis.cli(&["DEL", &lock]);
    // B finds no token and a free lock: it mints and stores tok-new.
    update(&b).await.unwrap();
    assert!(
        redis.cli(&["GET", &token_key()]).contains("tok-new"),
        "B stored its token"
    );
    // A's mint ends after 2.5 s; its call goes on with the fleet's token.
    a_call.await.unwrap().unwrap();
    assert_eq!(minted.load(Ordering::SeqCst), 2, "A's mint and B's");
    let stored = redis.cli(&["GET", &token_key()]);
    assert!(
        stored.contains("tok-new") && !stored.contains("tok-old"),
        "the newer token stays stored: {stored}"
    );
    let legacy = redis.cli(&["GET", &legacy_token_key()]);
    assert!(
        !legacy.contains("tok-old"),
        "nor under 0.1.0's key: {legacy}"
    );
    let stale: Vec<_> = server
        .card_requests()
        .into_iter()
        .filter(|seen| seen.header("x-auth-token").contains("tok-old"))
        .collect();
    assert!(
        stale.is_empty(),
        "no card call sent the voided token ({} did)",
        stale.len()
    );
}

/// A store pointed at a replica (a reader endpoint, or a primary demoted by
/// a failover while the connection stayed open): it reconnects on READONLY,
/// and when the server still answers READONLY says so as a configuration
/// error, never "unreachable"; calls meanwhile go on with the held token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_a_replica_says_so() {
    let _paced = paced().await;
    let primary = RedisServer::start();
    let replica_of = RedisServer::start();
    let (server, _minted) =
        token_server(|_| Script::Answer(token_answer("tok-ro", unix_now() + 1800))).await;
    let client = redis_replica(&server, &replica_of).build().unwrap();
    update(&client).await.unwrap();
    let port = primary
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    replica_of.cli(&["REPLICAOF", "127.0.0.1", &port]);
    let started = Instant::now();
    let error = loop {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no configuration error within 15 s"
        );
        // A refused token makes the store read Redis (the held one cannot
        // do): the read meets READONLY.
        match client
            .update_card(Uuid::new_v4())
            .name_on_card("X")
            .send()
            .await
        {
            Ok(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            Err(error) => break error,
        }
    };
    let text = error.to_string();
    assert!(text.contains("READONLY"), "{text}");
    assert!(!text.contains("unreachable"), "{text}");
    assert!(!error.is_retryable(), "{error}");
}
