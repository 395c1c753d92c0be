//! Log lines counted per second, and peak memory, on generated CloudFront logs.
//!
//! `cargo bench -p registry-cdn-log --bench log_processing` writes gzip'ed logs of
//! 10 MB and 100 MB (compressed) in the W3C format, with downloads, page reads,
//! `304`s, `HEAD`s and errors mixed as a CDN sees them, then reads each in a fresh
//! process of this binary (so each peak resident size is its own) on one thread.
//! Target: at least 200,000 lines/s, and peak memory flat in the file's size (it
//! grows with the distinct versions, days and clients a file names, which the
//! catalog bounds, not with its lines).
//!
//! `LOG_BENCH_DIR` picks where the files go (default: the system's temporary
//! directory); `LOG_BENCH_MB` replaces the sizes (`LOG_BENCH_MB=1,10,100,300`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use registry_cdn_log::tally_log;

const MEASURE_ARG: &str = "--measure";
const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";

/// A small, fixed pseudo-random sequence (xorshift), so every run writes the
/// same files.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// A request id: random characters, as CloudFront's are (they compress badly).
    fn request_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        (0..56)
            .map(|_| char::from(ALPHABET[self.below(64) as usize]))
            .collect()
    }
}

/// One log line: mostly downloads of 200 plugins' five versions each by 40 CLI
/// versions and other clients, the rest page and details reads, revalidations,
/// `HEAD`s and errors. What a file's counts hold is one entry per version, day and
/// client seen (here at most 41,000: 1,000 versions by 40 CLI versions and
/// other clients), however many lines the file has.
fn line(sequence: &mut Sequence, out: &mut String) {
    let plugin = sequence.below(200);
    let version = format!("1.{}.0", sequence.below(5));
    let kind = sequence.below(100);
    let (method, uri, status) = match kind {
        0..=49 => (
            "GET",
            format!("/plugins/plugin-{plugin}/{version}/schema"),
            "200",
        ),
        50..=59 => (
            "GET",
            format!("/plugins/plugin-{plugin}/{version}/bundle"),
            "200",
        ),
        60..=79 => ("GET", format!("/plugins/plugin-{plugin}"), "200"),
        80..=89 => (
            "GET",
            format!("/plugins/plugin-{plugin}/{version}/schema"),
            "304",
        ),
        90..=94 => (
            "HEAD",
            format!("/plugins/plugin-{plugin}/{version}/schema"),
            "200",
        ),
        _ => (
            "GET",
            format!("/plugins/plugin-{plugin}/9.9.9/schema"),
            "404",
        ),
    };
    let agent = if sequence.below(3) == 0 {
        "Mozilla/5.0%20(X11;%20Linux%20x86_64)".to_owned()
    } else {
        format!(
            "openworkflow/0.{}.{}",
            sequence.below(4),
            sequence.below(10)
        )
    };
    let ip = format!(
        "{}.{}.{}.{}",
        sequence.below(223) + 1,
        sequence.below(256),
        sequence.below(256),
        sequence.below(256)
    );
    let id = sequence.request_id();
    let seconds = sequence.below(86_400);
    out.clear();
    out.push_str(&format!(
        "2026-12-01\t{:02}:{:02}:{:02}\tFRA56-P1\t{}\t{ip}\t{method}\td111111abcdef8.cloudfront.net\t{uri}\t{status}\t-\t{agent}\t-\t-\tHit\t{id}\tregistry.example.com\thttps\t{}\t0.00{}\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t{}\t0.00{}\tHit\tapplication/json\t{}\t-\t-\n",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        1000 + sequence.below(4000),
        200 + sequence.below(300),
        sequence.below(10),
        1024 + sequence.below(60_000),
        sequence.below(10),
        500 + sequence.below(3000),
    ));
}

/// Writes a gzip'ed log of about `megabytes` compressed; returns its lines.
fn write_log(path: &Path, megabytes: u64) -> std::io::Result<u64> {
    let file = BufWriter::new(File::create(path)?);
    let mut gzip = GzEncoder::new(file, Compression::fast());
    gzip.write_all(b"#Version: 1.0\n")?;
    gzip.write_all(FIELDS.as_bytes())?;
    gzip.write_all(b"\n")?;
    let target = megabytes * 1024 * 1024;
    let mut sequence = Sequence(0x9E37_79B9_7F4A_7C15);
    let mut text = String::new();
    let mut lines = 0u64;
    // The compressed size is checked every so often: `get_ref` sees what the
    // encoder has flushed to the file so far.
    while gzip.get_ref().get_ref().metadata()?.len() < target {
        for _ in 0..10_000 {
            line(&mut sequence, &mut text);
            gzip.write_all(text.as_bytes())?;
            lines += 1;
        }
        gzip.get_mut().flush()?;
    }
    gzip.finish()?.flush()?;
    Ok(lines)
}

/// This process's peak resident size, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The child's side: reads one file and prints `lines seconds peak_kib`.
fn measure(path: &Path) {
    let started = Instant::now();
    let file = File::open(path).expect("the generated log");
    let reader = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(BufReader::new(file)));
    let tally = tally_log(reader).expect("a readable log");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        tally.rejected_total, 0,
        "the generated lines are all readable"
    );
    assert!(tally.downloads > 0);
    println!(
        "{} {seconds} {} {} {}",
        tally.requests,
        peak_rss_kib(),
        tally.downloads,
        tally.counts.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == MEASURE_ARG) {
        measure(Path::new(&args[at + 1]));
        return;
    }
    let dir = std::env::var_os("LOG_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let sizes: Vec<u64> = std::env::var("LOG_BENCH_MB")
        .ok()
        .map(|raw| {
            raw.split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![10, 100]);
    let me = std::env::current_exe().expect("this binary");
    println!(
        "| gzip'ed log | lines | seconds | lines/s | downloads counted | counters | peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for megabytes in sizes {
        let path = dir.join(format!("openworkflow-cdn-log-{megabytes}mb.gz"));
        let written = write_log(&path, megabytes).expect("writing the log");
        let output = Command::new(&me)
            .args([MEASURE_ARG, path.to_str().expect("a UTF-8 path")])
            .output()
            .expect("running the measurement");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let figures: Vec<&str> = text.split_whitespace().collect();
        let (lines, seconds, peak, downloads, counters) = (
            figures[0].parse::<u64>().unwrap_or(0),
            figures[1].parse::<f64>().unwrap_or(f64::NAN),
            figures[2].parse::<u64>().unwrap_or(0),
            figures[3],
            figures[4],
        );
        assert_eq!(lines, written);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "| {:.1} MB | {lines} | {seconds:.2} | {:.0} | {downloads} | {counters} | {:.1} MB |",
            size as f64 / 1_048_576.0,
            lines as f64 / seconds,
            peak as f64 / 1024.0
        );
        let _ = std::fs::remove_file(&path);
    }
}
