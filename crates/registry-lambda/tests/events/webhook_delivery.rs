//! Webhooks on AWS: a publish stores its deliveries in DynamoDB Local and puts a
//! message per delivery on an SQS queue on moto's server; the messages read back
//! from the queue, wrapped as Lambda's SQS event source wraps them, are fed to
//! the built `webhook-delivery` function through the emulated Runtime API.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use registry_core::api::webhooks::NewWebhook;
use registry_core::manifest::DocumentFormat;
use registry_core::registry::{PublishBody, QueuedDeliveryOutcome};
use registry_core::store::WebhookStore;
use registry_core::webhook::{DeliveryState, SubscriptionId};
use registry_lambda::webhook_delivery::deliver_batch;
use serde_json::{Value, json};

use crate::download_log::{sqs, sqs_event};
use crate::functions::{Bootstrap, Functions, GITHUB_YAML};
use crate::runtime_api::{Outcome, RuntimeApi};

/// A receiver on loopback answering from a script (then 204), counting requests.
async fn receiver(script: Vec<u16>) -> (String, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let calls = Arc::new(Mutex::new(0));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let counted = Arc::clone(&calls);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (counted, script) = (Arc::clone(&counted), Arc::clone(&script));
            async move {
                *counted.lock().unwrap() += 1;
                let status = script.lock().unwrap().pop_front().unwrap_or(204);
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

fn calls(counter: &Arc<Mutex<usize>>) -> usize {
    *counter.lock().unwrap()
}

/// The message of `event` for a delivery to `subscription`.
fn message_to<'a>(event: &'a Value, subscription: &str) -> &'a Value {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["body"].as_str().unwrap().contains(subscription))
        .unwrap_or_else(|| panic!("no message for {subscription} in {event}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_delivery_function_sends_retries_and_reports_only_the_failed_messages() {
    let queue_name = format!("hooks-{}", std::process::id());
    let queue = sqs("CreateQueue", json!({ "QueueName": queue_name })).await;
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let attributes = sqs(
        "GetQueueAttributes",
        json!({ "QueueUrl": queue_url, "AttributeNames": ["QueueArn"] }),
    )
    .await;
    let queue_arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let f = Functions::start_configured(|config| {
        config.webhook_queue_url = Some(queue_url.clone());
        config.webhooks.policy.allow_loopback = true;
    })
    .await;
    let registry = &f.state.registry;
    let admin = registry.authenticate(&f.key).await.unwrap();
    let (taking, taken) = receiver(vec![]).await;
    let (failing, refused) = receiver(vec![500]).await;
    let mut subscriptions = Vec::new();
    for url in [&taking, &failing] {
        let created = registry
            .add_webhook(
                Some(&admin),
                &NewWebhook {
                    url: url.clone(),
                    events: vec!["version.published".into()],
                    plugin: None,
                    org: None,
                    check: None,
                },
            )
            .await
            .unwrap();
        subscriptions.push(created.webhook.id);
    }
    registry
        .publish_version(
            &admin,
            PublishBody::Document {
                bytes: Bytes::from(GITHUB_YAML),
                format: DocumentFormat::Yaml,
            },
        )
        .await
        .unwrap();
    let event = sqs_event(&queue_url, &queue_arn).await;
    assert_eq!(
        event["Records"].as_array().unwrap().len(),
        2,
        "one message per delivery: {event}"
    );
    assert_eq!(
        (calls(&taken), calls(&refused)),
        (0, 0),
        "the publish sent nothing itself"
    );
    let to_failing = message_to(&event, &subscriptions[1])["messageId"]
        .as_str()
        .unwrap()
        .to_owned();

    // The built function, whose retries cannot be queued (its queue is gone):
    // the delivery that succeeded is done; the one that failed is recorded and
    // its message reported, so SQS delivers it again.
    let mut api = RuntimeApi::start(vec![event.to_string(), event.to_string()]).await;
    let gone = format!("{queue_url}-gone");
    let _function = Bootstrap::spawn_with(
        env!("CARGO_BIN_EXE_webhook-delivery"),
        &f,
        &api,
        &[("OPENWORKFLOW_REGISTRY_WEBHOOK_QUEUE_URL", gone.as_str())],
    );
    for attempt in ["first", "second"] {
        let outcome = tokio::time::timeout(Duration::from_secs(60), api.next_outcome())
            .await
            .expect("the function answered the Runtime API")
            .1;
        let Outcome::Response(response) = outcome else {
            panic!("the {attempt} invocation failed");
        };
        assert_eq!(
            response,
            json!({ "batchItemFailures": [{ "itemIdentifier": to_failing }] }),
            "{attempt} invocation"
        );
    }
    assert_eq!(calls(&taken), 1, "a delivered delivery is not sent again");
    assert_eq!(calls(&refused), 1, "not yet due the second time");
    let store = f.store();
    let failing_id = SubscriptionId::parse(&subscriptions[1]).unwrap();
    let log = store.deliveries(&failing_id, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].state, DeliveryState::Pending);
    assert_eq!(log[0].attempts[0].status, Some(500));
    let taking_id = SubscriptionId::parse(&subscriptions[0]).unwrap();
    assert_eq!(
        store.deliveries(&taking_id, 10).await.unwrap()[0].state,
        DeliveryState::Delivered
    );

    // In process, with the queue there: the early message goes back on the
    // queue with a delay, and a message that names no delivery is dropped.
    let mut batch = json!({ "Records": [message_to(&event, &subscriptions[1]).clone()] });
    batch["Records"].as_array_mut().unwrap().push(json!({
        "messageId": "0c3b5e1a-9d1f-4a7e-8f00-5d2c1b0a9e88",
        "body": "{\"subscription\": 7}",
        "eventSource": "aws:sqs"
    }));
    let outcome = deliver_batch(registry, &batch).await;
    assert_eq!(outcome.response.batch_item_failures, []);
    assert_eq!(
        outcome.deliveries,
        [(to_failing.clone(), QueuedDeliveryOutcome::NotYetDue)]
    );
    let attributes = sqs(
        "GetQueueAttributes",
        json!({ "QueueUrl": queue_url, "AttributeNames": ["ApproximateNumberOfMessagesDelayed"] }),
    )
    .await;
    assert_eq!(
        attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"], "1",
        "the retry is back on the queue, delayed until it is due: {attributes}"
    );
}
