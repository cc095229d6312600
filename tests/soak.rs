//! Soak under faults: 2,000 logical calls (the three operations mixed, 32
//! concurrent tasks) against a simulator injecting ~25% faults of every
//! kind. Every call succeeds, every idempotency key is committed exactly
//! once, no card number is assigned twice, and the final state of every card
//! is what the same calls produce without faults.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use uqpay_e2e::{fast_builder, TOKEN};
use uqpay_issuing::{CardMode, CardStatus, Client, SpendingInterval};
use uqpay_mock::{Fault, MockServer};
use uuid::Uuid;

const CALLS: usize = 2_000;
const CALLS_PER_CARD: usize = 8;
const TASKS: usize = 32;
const FAULT_RATE: f64 = 0.25;

/// One logical call of the plan, with its idempotency key fixed up front.
#[derive(Clone, Debug)]
enum Step {
    Assign {
        pan: String,
        mode: CardMode,
    },
    Status {
        status: CardStatus,
        reason: String,
    },
    Update {
        limit: Option<Decimal>,
        name: String,
        control: Decimal,
        mcc: String,
    },
}

/// The same plan for both runs: per card, an assign and then updates and
/// status changes in order (the last one sometimes a cancellation).
fn plan(seed: u64) -> Vec<Vec<(Uuid, Step)>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let cards = CALLS / CALLS_PER_CARD;
    (0..cards)
        .map(|card| {
            let mode = if rng.random_bool(0.5) {
                CardMode::Share
            } else {
                CardMode::Single
            };
            let mut steps = vec![Step::Assign {
                pan: format!("4{:015}", 900_000_000 + card as u64),
                mode,
            }];
            let mut frozen = false;
            for i in 1..CALLS_PER_CARD {
                let last = i == CALLS_PER_CARD - 1;
                let step = if last && rng.random_bool(0.3) {
                    Step::Status {
                        status: CardStatus::Cancelled,
                        reason: format!("closed {card}"),
                    }
                } else if rng.random_bool(0.4) {
                    frozen = !frozen;
                    let status = if frozen {
                        CardStatus::Frozen
                    } else {
                        CardStatus::Active
                    };
                    Step::Status {
                        status,
                        reason: format!("step {i}"),
                    }
                } else {
                    let cents: i64 = rng.random_range(0..10_000_000);
                    Step::Update {
                        limit: (mode == CardMode::Share).then(|| Decimal::new(cents, 2)),
                        name: format!("HOLDER {card} {i}"),
                        control: Decimal::new(rng.random_range(0..1_000_000), 3),
                        mcc: format!("{:04}", rng.random_range(0..10_000)),
                    }
                };
                steps.push(step);
            }
            steps
                .into_iter()
                .map(|step| (Uuid::new_v4(), step))
                .collect()
        })
        .collect()
}

async fn run_card(client: &Client, steps: &[(Uuid, Step)]) {
    let mut card_id = None;
    for (key, step) in steps {
        let key = *key;
        match step {
            Step::Assign { pan, mode } => {
                let assigned = client
                    .assign_card()
                    .cardholder_id(Uuid::from_u128(pan.parse().unwrap()))
                    .card_number(pan)
                    .card_currency("USD")
                    .card_mode(*mode)
                    .idempotency_key(key)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("assign failed: {e}"));
                card_id = Some(assigned.card_id);
            }
            Step::Status { status, reason } => {
                client
                    .update_card_status(card_id.unwrap())
                    .card_status(*status)
                    .update_reason(reason)
                    .idempotency_key(key)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("status failed: {e}"));
            }
            Step::Update {
                limit,
                name,
                control,
                mcc,
            } => {
                let mut update = client
                    .update_card(card_id.unwrap())
                    .name_on_card(name)
                    .spending_control(*control, SpendingInterval::Daily)
                    .blocked_mcc([mcc.clone()])
                    .metadata("step", key.to_string())
                    .idempotency_key(key);
                if let Some(limit) = limit {
                    update = update.card_limit(*limit);
                }
                update
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("update failed: {e}"));
            }
        }
    }
}

/// Runs the plan with `TASKS` concurrent workers; returns each card's final
/// state keyed by card number, as comparable JSON (ids and times left out).
async fn run(
    server: &MockServer,
    plan: &[Vec<(Uuid, Step)>],
) -> BTreeMap<String, serde_json::Value> {
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .max_retries(20)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut workers = Vec::new();
    for worker in 0..TASKS {
        let client = client.clone();
        let cards: Vec<Vec<(Uuid, Step)>> =
            plan.iter().skip(worker).step_by(TASKS).cloned().collect();
        workers.push(tokio::spawn(async move {
            for steps in &cards {
                run_card(&client, steps).await;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a worker panicked");
    }
    server
        .cards()
        .into_iter()
        .map(|card| {
            let mut state = serde_json::to_value(&card).unwrap();
            let object = state.as_object_mut().unwrap();
            for volatile in ["card_id", "card_order_id", "create_time"] {
                object.remove(volatile);
            }
            (card.card_number.expose().to_owned(), state)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_commits_every_call_exactly_once() {
    let plan = plan(2024);
    let keys: Vec<Uuid> = plan.iter().flatten().map(|(key, _)| *key).collect();
    assert_eq!(keys.len(), CALLS);

    let clean = MockServer::builder().token(TOKEN).start().await.unwrap();
    let expected = run(&clean, &plan).await;
    assert_eq!(clean.stats().faults.values().sum::<u64>(), 0);

    let faults: Vec<Fault> = Fault::all();
    let faulty = MockServer::builder()
        .token(TOKEN)
        .seed(7)
        .random_faults(FAULT_RATE, faults)
        .start()
        .await
        .unwrap();
    // The same keys again, on another server: the plan is the same calls.
    let actual = run(&faulty, &plan).await;

    let stats = faulty.stats();
    let attempts = stats.card_total(|c| c.received);
    let commits = stats.card_total(|c| c.committed);
    let replays = stats.card_total(|c| c.replayed);
    let injected: u64 = stats.faults.values().sum();
    let duplicates = faulty.keys_committed_more_than_once();
    println!(
        "soak: {CALLS} calls, {attempts} attempts, {injected} faults injected {:?}, \
         {commits} commits, {replays} replays, duplicates = {}",
        stats.faults,
        duplicates.len()
    );

    // Every kind of fault happened, about as often as configured.
    for kind in Fault::all() {
        assert!(
            stats.faults.get(&kind.name()).copied().unwrap_or(0) > 0,
            "no {}",
            kind.name()
        );
    }
    let rate = injected as f64 / attempts as f64;
    assert!((0.18..0.32).contains(&rate), "fault rate {rate}");

    // Exactly one commit per logical call, none twice.
    assert!(
        duplicates.is_empty(),
        "keys committed twice: {duplicates:?}"
    );
    for key in &keys {
        assert_eq!(faulty.commits_for_key(*key), 1, "key {key}");
    }
    assert_eq!(commits, CALLS as u64);
    // Every dropped-after-commit request was answered by a replay later.
    assert!(replays >= stats.faults["drop_after_commit"]);

    // No card number assigned twice, and the same final states as without faults.
    assert_eq!(faulty.cards().len(), CALLS / CALLS_PER_CARD);
    assert_eq!(actual.len(), expected.len());
    assert_eq!(actual, expected);
}
