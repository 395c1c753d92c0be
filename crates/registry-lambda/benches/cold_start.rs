//! Cold start of every Lambda function, run for real: each built binary is started
//! against an emulated Runtime API on loopback (over DynamoDB Local and moto), and
//! the bench reports process start -> first poll for work, process start -> first
//! response, the peak RSS after that response, and the deployable zip's size.
//!
//!   scripts/aws-local.sh cargo bench -p registry-functions --bench cold_start
//!
//! Zip sizes come from `scripts/package.sh` (the arm64 build `sam build` deploys);
//! without it they read "n/a". Without `--bench` (as the test command runs it) each
//! function starts once, to prove the bench works.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

#[path = "../tests/support/functions.rs"]
mod functions;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::time::{Duration, Instant};

use functions::{Bootstrap, Functions, GITHUB_YAML};
use registry_http::routes::publish_routes;
use runtime_api::{Outcome, RuntimeApi};

/// Targets from the issue: reported beside each figure, never asserted.
const FIRST_POLL_TARGET: Duration = Duration::from_millis(20);
const ZIP_TARGET_BYTES: u64 = 5 * 1024 * 1024;
const RSS_TARGET_KIB: u64 = 32 * 1024;

struct Function {
    name: &'static str,
    bin: &'static str,
    /// The event of iteration `i`.
    event: fn(&Functions, usize) -> String,
}

const FUNCTIONS: &[Function] = &[
    Function {
        name: "publish",
        bin: env!("CARGO_BIN_EXE_publish"),
        event: |f, i| {
            let yaml = GITHUB_YAML.replace("slug: github", &format!("slug: cold-start-{i}"));
            f.render("apigw/publish_yaml.json", &yaml, &[])
        },
    },
    Function {
        name: "search",
        bin: env!("CARGO_BIN_EXE_search"),
        event: |f, _| f.render("apigw/search.json", "", &[]),
    },
    Function {
        name: "deprecate",
        bin: env!("CARGO_BIN_EXE_deprecate"),
        event: |f, _| f.render("apigw/deprecate.json", "", &[]),
    },
    Function {
        name: "unpublish",
        bin: env!("CARGO_BIN_EXE_unpublish"),
        event: |f, _| f.render("apigw/unpublish.json", "", &[]),
    },
    Function {
        name: "keys",
        bin: env!("CARGO_BIN_EXE_keys"),
        event: |f, _| f.render("apigw/create_key.json", "", &[]),
    },
    Function {
        name: "org-catalog",
        bin: env!("CARGO_BIN_EXE_org-catalog"),
        event: |f, _| f.render("apigw/org_plugins.json", "", &[]),
    },
    Function {
        name: "router",
        bin: env!("CARGO_BIN_EXE_router"),
        event: |f, _| f.render("apigw/routing_table.json", "", &[]),
    },
    Function {
        name: "health-check",
        bin: env!("CARGO_BIN_EXE_health-check"),
        event: |f, _| f.render("eventbridge/scheduled.json", "", &[]),
    },
];

struct Run {
    first_poll: Duration,
    first_response: Duration,
    peak_rss_kib: u64,
    status: String,
}

/// Peak resident set size of a live process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn cold_start(f: &Functions, function: &Function, i: usize) -> Run {
    let mut api = RuntimeApi::start(vec![(function.event)(f, i)]).await;
    let started = Instant::now();
    let process = Bootstrap::spawn(function.bin, f, &api);
    let polled = tokio::time::timeout(Duration::from_secs(60), api.next_poll())
        .await
        .expect("the function polled the Runtime API");
    let (answered, outcome) = tokio::time::timeout(Duration::from_secs(60), api.next_outcome())
        .await
        .expect("the function answered");
    let peak_rss_kib = peak_rss_kib(process.0.id());
    let status = match outcome {
        Outcome::Response(r) => r["statusCode"]
            .as_u64()
            .map_or_else(|| "ok".to_owned(), |s| s.to_string()),
        Outcome::Error(e) => format!("error {}", e["errorType"]),
        Outcome::InitError(e) => format!("init error {}", e["errorType"]),
    };
    Run {
        first_poll: polled - started,
        first_response: answered - started,
        peak_rss_kib,
        status,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn zip_size(name: &str) -> Option<u64> {
    let path = format!(
        "{}/../../target/lambda/{name}/bootstrap.zip",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let iterations = if full { 20 } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let f = Functions::start().await;
        let (status, body) = f
            .invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
            .await;
        assert_eq!(status, 201, "{body}");
        println!(
            "cold start over {iterations} run(s) each (targets: first poll < {} ms, zip < {} MiB, RSS < {} MiB)\n",
            FIRST_POLL_TARGET.as_millis(),
            ZIP_TARGET_BYTES / 1024 / 1024,
            RSS_TARGET_KIB / 1024
        );
        println!(
            "| function | first poll p50 ms | p95 ms | first response p50 ms | p95 ms | peak RSS MiB | zip KiB | answers |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        for function in FUNCTIONS {
            let mut runs = Vec::with_capacity(iterations);
            for i in 0..iterations {
                runs.push(cold_start(&f, function, i).await);
            }
            let mut polls: Vec<Duration> = runs.iter().map(|r| r.first_poll).collect();
            let mut responses: Vec<Duration> = runs.iter().map(|r| r.first_response).collect();
            polls.sort();
            responses.sort();
            let rss = runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
            let mut statuses: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
            statuses.dedup();
            println!(
                "| {} | {} | {} | {} | {} | {:.1} | {} | {} |",
                function.name,
                ms(percentile(&polls, 0.5)),
                ms(percentile(&polls, 0.95)),
                ms(percentile(&responses, 0.5)),
                ms(percentile(&responses, 0.95)),
                rss as f64 / 1024.0,
                zip_size(function.name).map_or("n/a".to_owned(), |b| (b / 1024).to_string()),
                statuses.join(", ")
            );
        }
    });
}
