//! The `download-log` function fed what AWS feeds it: a gzip'ed CloudFront standard
//! log put into a bucket on moto's S3 server, whose notification moto sends to an
//! SQS queue on the same server; the message read back from the queue is wrapped
//! as Lambda's SQS event source wraps it.

use std::io::Write;
use std::sync::Arc;

use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use flate2::Compression;
use flate2::write::GzEncoder;
use registry_aws::cdn_logs::CdnLogBucket;
use registry_core::downloads::{DownloadClient, DownloadCount, DownloadKey, Retention};
use registry_core::slug::Slug;
use registry_core::store::DownloadCounters;
use registry_core::timestamp::SystemClock;
use registry_core::version::PluginVersion;
use registry_lambda::download_log::{DownloadLogFunction, FileOutcome};
use serde_json::{Value, json};

use crate::functions::{Bootstrap, Functions};
use crate::runtime_api::{Outcome, RuntimeApi};

const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";

/// One request line as CloudFront writes it.
fn request(method: &str, uri: &str, status: &str, agent: &str) -> String {
    format!(
        "2026-12-01\t10:02:31\tFRA56-P1\t2392\t192.0.2.100\t{method}\td111111abcdef8.cloudfront.net\t{uri}\t{status}\t-\t{agent}\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\tregistry.example.com\thttps\t23\t0.001\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\tapplication/json\t2078\t-\t-"
    )
}

/// A gzip'ed log file of `lines`, with CloudFront's two header lines.
fn gzip_log(lines: &[String]) -> Vec<u8> {
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    writeln!(gzip, "#Version: 1.0\n{FIELDS}").unwrap();
    for line in lines {
        writeln!(gzip, "{line}").unwrap();
    }
    gzip.finish().unwrap()
}

/// moto's server, which serves SQS beside S3.
fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_S3").expect("moto's endpoint: run ./scripts/test.sh")
}

/// One SQS action through its JSON protocol.
pub(crate) async fn sqs(action: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(moto_endpoint())
        // moto tells the service a request is for by its credential scope.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// A log bucket whose object-created notifications go to a new queue; returns
/// the queue's URL and ARN.
async fn notifying_log_bucket(f: &Functions, bucket: &str) -> (String, String) {
    let queue = sqs(
        "CreateQueue",
        json!({ "QueueName": format!("{bucket}-queue") }),
    )
    .await;
    let url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let attributes = sqs(
        "GetQueueAttributes",
        json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] }),
    )
    .await;
    let arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    f.clients
        .s3
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    f.clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(&arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    (url, arn)
}

/// Every message waiting on the queue, as Lambda's SQS event source hands them
/// to a function: one event, one record per message.
pub(crate) async fn sqs_event(queue_url: &str, queue_arn: &str) -> Value {
    let mut records = Vec::new();
    for _ in 0..10 {
        let received = sqs(
            "ReceiveMessage",
            json!({ "QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1 }),
        )
        .await;
        let messages = received["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() && !records.is_empty() {
            break;
        }
        for message in messages {
            records.push(json!({
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1764583351000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1764583351010"
                },
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1"
            }));
        }
    }
    json!({ "Records": records })
}

fn count(version: &str, client: &DownloadClient, count: u64) -> DownloadCount {
    DownloadCount {
        key: DownloadKey {
            slug: Slug::parse("github").unwrap(),
            version: PluginVersion::parse(version).unwrap(),
            day: time::macros::date!(2026 - 12 - 01),
            client: client.clone(),
        },
        count,
    }
}

async fn outcome_of(api: &mut RuntimeApi) -> Outcome {
    tokio::time::timeout(std::time::Duration::from_secs(60), api.next_outcome())
        .await
        .expect("the function answered the Runtime API")
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_download_log_function_counts_a_cloudfront_log_once_however_often_it_arrives() {
    let f = Functions::start().await;
    let bucket = format!("{}-logs", f.config.table);
    let (queue_url, queue_arn) = notifying_log_bucket(&f, &bucket).await;
    let cli = "openworkflow/0.4.1";
    let lines = [
        request("GET", "/plugins/github/1.2.0/schema", "200", cli),
        request("GET", "/plugins/github/1.2.0/bundle", "200", cli),
        request(
            "GET",
            "/index/plugins/github/1.1.0/schema",
            "200",
            "curl/8.5.0",
        ),
        request(
            "GET",
            "/plugins/git%68ub/1.1.0/schema",
            "200",
            "Mozilla/5.0%20(X11)",
        ),
        request("GET", "/plugins/github/1.2.0/schema", "304", cli),
        request("HEAD", "/plugins/github/1.2.0/schema", "200", cli),
        request("GET", "/plugins/github/1.2.0/schema", "403", cli),
        request("GET", "/plugins/github", "200", cli),
        // A line cut short: reported, and the rest still count.
        request("GET", "/plugins/github/1.2.0/schema", "200", cli)
            .rsplit_once('\t')
            .unwrap()
            .0
            .to_owned(),
    ];
    let key = "cloudfront/E2EXAMPLE.2026-12-01-10.1a2b3c4d.gz";
    f.clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key(key)
        .body(gzip_log(&lines).into())
        .send()
        .await
        .unwrap();
    let event = sqs_event(&queue_url, &queue_arn).await;
    let bodies: Vec<&str> = event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies.iter().any(|b| b.contains("ObjectCreated:Put")),
        "moto announced the log file: {bodies:?}"
    );

    // The same event twice: a redelivery after, say, a timeout.
    let mut api = RuntimeApi::start(vec![event.to_string(), event.to_string()]).await;
    let _function = Bootstrap::spawn(env!("CARGO_BIN_EXE_download-log"), &f, &api);
    for delivery in ["first", "second"] {
        let Outcome::Response(response) = outcome_of(&mut api).await else {
            panic!("the {delivery} delivery failed the invocation");
        };
        assert_eq!(
            response,
            json!({ "batchItemFailures": [] }),
            "{delivery} delivery"
        );
    }
    let other = DownloadClient::Other;
    let expected = vec![
        count("1.1.0", &other, 2),
        count("1.2.0", &DownloadClient::from_user_agent(Some(cli)), 2),
    ];
    let day = time::macros::date!(2026 - 12 - 01);
    assert_eq!(
        f.store()
            .download_counts(&Slug::parse("github").unwrap(), day, day)
            .await
            .unwrap(),
        expected,
        "downloads only, each counted once although the file arrived twice"
    );
    assert!(f.store().log_file_counted(key).await.unwrap());

    // In process: the report names the line that could not be read, and a file
    // already counted is not read again.
    let function = DownloadLogFunction::new(
        CdnLogBucket::new(f.clients.s3.clone()),
        f.store(),
        Retention::default(),
        Arc::new(SystemClock),
    );
    let second = "cloudfront/E2EXAMPLE.2026-12-01-11.5e6f7a8b.gz";
    f.clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key(second)
        .body(gzip_log(&lines).into())
        .send()
        .await
        .unwrap();
    let FileOutcome::Counted {
        requests,
        downloads,
        rejected,
        ..
    } = function.count_file(&bucket, second).await.unwrap()
    else {
        panic!("a new file is counted");
    };
    assert_eq!((requests, downloads), (9, 4));
    assert_eq!(rejected.len(), 1);
    // Line 1 and 2 are the headers; the cut line is the ninth request.
    assert_eq!(rejected[0].line, 11);
    assert_eq!(
        function.count_file(&bucket, key).await.unwrap(),
        FileOutcome::AlreadyCounted
    );

    // A batch whose one message names a file that is not there: only that message
    // is delivered again.
    let missing = json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": { "bucket": { "name": bucket }, "object": { "key": "cloudfront/missing.gz" } }
    }]});
    let mut batch = sqs_event(&queue_url, &queue_arn).await;
    let records = batch["Records"].as_array_mut().unwrap();
    records.push(json!({
        "messageId": "5f0a51b8-2f1c-4d1e-9a5b-0e7a3c2b1d00",
        "body": missing.to_string(),
        "eventSource": "aws:sqs"
    }));
    let outcome = function.handle(&batch).await;
    assert_eq!(
        serde_json::to_value(&outcome.response).unwrap(),
        json!({ "batchItemFailures": [{ "itemIdentifier": "5f0a51b8-2f1c-4d1e-9a5b-0e7a3c2b1d00" }] })
    );
    assert!(
        outcome.files.iter().any(|file| file.key == second),
        "the other message's file was reported"
    );
}
