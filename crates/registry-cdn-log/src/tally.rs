//! One CloudFront standard log file read into download counts.
//!
//! The format is W3C extended: `#Version:` and `#Fields:` header lines, then one
//! tab-separated line per request, fields in the order `#Fields:` names them
//! (CloudFront adds fields over the years, so positions are never assumed).
//! Values are URL-encoded and `-` stands for an empty one.
//!
//! A line counts when it is a `GET` answered `200`, or `206` for the range that
//! starts at byte 0 (a ranged download counts once, not once per range), of a
//! path the edge function maps onto a schema or bundle: the protocol's
//! `/plugins/{slug}/{version}/schema|bundle`, the index's own
//! `/index/plugins/...`, or the artifact's `/artifacts/{slug}/{version}/...`.
//! `HEAD`s, `304`s and errors never count.
//!
//! Memory stays flat in the file's size: lines are read one at a time into one
//! buffer (a line over [`MAX_LINE_BYTES`] is rejected, not buffered), and the
//! counts are keyed by version, day and client, whose number the catalog and
//! [`MAX_CLIENTS_PER_FILE`] bound, not the file.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;

use percent_encoding::percent_decode;
use registry_core::artifact::ArtifactKey;
use registry_core::downloads::{DownloadClient, DownloadCount, DownloadKey};
use registry_core::slug::Slug;
use registry_core::timestamp::parse_day;
use registry_core::version::PluginVersion;
use registry_index::path::{EdgeRoute, INDEX_PREFIX, IndexPath, edge_route};

/// The longest line read; CloudFront's own lines are a few hundred bytes (its
/// URLs and headers are truncated long before this).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Rejected lines reported by number and reason; more are only counted.
pub const MAX_REPORTED_REJECTIONS: usize = 100;

/// Distinct CLI versions one file counts by name: `User-Agent`s are chosen by
/// strangers, so past this many, further CLI versions count as other clients.
pub const MAX_CLIENTS_PER_FILE: usize = 256;

/// A line that was not counted because it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    /// Its number in the file, from 1.
    pub line: u64,
    /// What was wrong with it.
    pub reason: String,
}

/// What one log file holds, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTally {
    /// Downloads per version, day and client, in key order.
    pub counts: Vec<DownloadCount>,
    /// Request lines read (header lines excluded).
    pub requests: u64,
    /// Of them, downloads counted.
    pub downloads: u64,
    /// Lines that could not be read, at most [`MAX_REPORTED_REJECTIONS`].
    pub rejected: Vec<RejectedLine>,
    /// How many lines could not be read, reported or not.
    pub rejected_total: u64,
}

/// The positions of the fields a count needs, from a `#Fields:` line.
#[derive(Debug, Clone, Copy)]
struct Layout {
    fields: usize,
    date: usize,
    method: usize,
    uri: usize,
    status: usize,
    user_agent: usize,
    range_start: Option<usize>,
}

impl Layout {
    /// The layout a `#Fields:` line's names give, or why it cannot be used.
    fn of(names: &str) -> Result<Self, String> {
        let names: Vec<&str> = names.split_whitespace().collect();
        let find = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| format!("the #Fields: header has no {name} field"))
        };
        Ok(Self {
            fields: names.len(),
            date: find("date")?,
            method: find("cs-method")?,
            uri: find("cs-uri-stem")?,
            status: find("sc-status")?,
            user_agent: find("cs(User-Agent)")?,
            range_start: find("sc-range-start").ok(),
        })
    }
}

/// How a line was read.
enum Line {
    /// The whole line is in the buffer (without its line end).
    Complete,
    /// It was longer than [`MAX_LINE_BYTES`] and was skipped to its end.
    TooLong,
    /// The file ended.
    End,
}

/// Reads the next line into `buffer`, never holding more than
/// [`MAX_LINE_BYTES`] of it.
fn next_line(reader: &mut impl BufRead, buffer: &mut Vec<u8>) -> std::io::Result<Line> {
    buffer.clear();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(match (read_any, too_long) {
                (false, _) => Line::End,
                (true, true) => Line::TooLong,
                (true, false) => Line::Complete,
            });
        }
        read_any = true;
        let (chunk, found_end) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        if !too_long {
            if buffer.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                buffer.clear();
            } else {
                buffer.extend_from_slice(chunk);
            }
        }
        let used = chunk.len() + usize::from(found_end);
        reader.consume(used);
        if found_end {
            if buffer.last() == Some(&b'\r') {
                buffer.pop();
            }
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

/// A URL-encoded field's value, decoded once (`-` is empty).
fn decoded(field: &[u8]) -> Option<String> {
    if field == b"-" {
        return Some(String::new());
    }
    percent_decode(field)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The plugin and version a request path downloads, mapped as the edge function
/// maps it, or `None` for any other path.
pub fn download_of(path: &str) -> Option<(Slug, PluginVersion)> {
    let EdgeRoute::Object(key) = edge_route("GET", path, None, None, false) else {
        return None;
    };
    if let Some(index_key) = key.strip_prefix(INDEX_PREFIX) {
        return match IndexPath::parse(index_key)? {
            IndexPath::Schema(slug, version) | IndexPath::Bundle(slug, version) => {
                Some((slug, version))
            }
            _ => None,
        };
    }
    ArtifactKey::plugin_version_of(&key)
}

/// Notes a line that could not be read.
fn reject(tally: &mut LogTally, line: u64, reason: String) {
    tally.rejected_total += 1;
    if tally.rejected.len() < MAX_REPORTED_REJECTIONS {
        tally.rejected.push(RejectedLine { line, reason });
    }
}

/// Counts the downloads in one log file, read line by line from `reader` (the
/// file's text, already decompressed). Fails only when the file cannot be read;
/// a line that cannot be understood is reported and the rest still count.
pub fn tally_log(mut reader: impl BufRead) -> std::io::Result<LogTally> {
    let mut tally = LogTally::default();
    let mut counts: HashMap<DownloadKey, u64> = HashMap::new();
    let mut clients: BTreeSet<DownloadClient> = BTreeSet::new();
    let mut layout: Option<Layout> = None;
    let mut buffer = Vec::with_capacity(1024);
    let mut number = 0u64;
    loop {
        number += 1;
        match next_line(&mut reader, &mut buffer)? {
            Line::End => break,
            Line::TooLong => {
                tally.requests += 1;
                reject(
                    &mut tally,
                    number,
                    format!("longer than {MAX_LINE_BYTES} bytes"),
                );
                continue;
            }
            Line::Complete => {}
        }
        if buffer.is_empty() {
            continue;
        }
        if buffer[0] == b'#' {
            if let Some(names) = buffer.strip_prefix(b"#Fields:") {
                match std::str::from_utf8(names)
                    .map_err(|e| e.to_string())
                    .and_then(Layout::of)
                {
                    Ok(found) => layout = Some(found),
                    Err(reason) => {
                        layout = None;
                        reject(&mut tally, number, reason);
                    }
                }
            }
            continue;
        }
        tally.requests += 1;
        let Some(layout) = layout else {
            reject(
                &mut tally,
                number,
                "no usable #Fields: header before this line".to_owned(),
            );
            continue;
        };
        match counted_download(&buffer, &layout) {
            Ok(None) => {}
            Ok(Some(mut key)) => {
                if let DownloadClient::Cli { .. } = key.client
                    && !clients.contains(&key.client)
                {
                    if clients.len() < MAX_CLIENTS_PER_FILE {
                        clients.insert(key.client.clone());
                    } else {
                        key.client = DownloadClient::Other;
                    }
                }
                *counts.entry(key).or_default() += 1;
                tally.downloads += 1;
            }
            Err(reason) => reject(&mut tally, number, reason),
        }
    }
    let mut counts: Vec<DownloadCount> = counts
        .into_iter()
        .map(|(key, count)| DownloadCount { key, count })
        .collect();
    counts.sort_by(|a, b| a.key.cmp(&b.key));
    tally.counts = counts;
    Ok(tally)
}

/// The download one request line records, `None` when it records none (another
/// path, method or status), or why the line cannot be read.
fn counted_download(line: &[u8], layout: &Layout) -> Result<Option<DownloadKey>, String> {
    let mut fields: [&[u8]; 6] = [b""; 6];
    let wanted = [
        layout.date,
        layout.method,
        layout.uri,
        layout.status,
        layout.user_agent,
        layout.range_start.unwrap_or(usize::MAX),
    ];
    let mut seen = 0;
    for (position, field) in line.split(|&b| b == b'\t').enumerate() {
        seen += 1;
        for (slot, &at) in wanted.iter().enumerate() {
            if at == position {
                fields[slot] = field;
            }
        }
    }
    if seen != layout.fields {
        return Err(format!(
            "{seen} fields where the #Fields: header names {}",
            layout.fields
        ));
    }
    let [date, method, uri, status, user_agent, range_start] = fields;
    let counted_status = match status {
        b"200" => true,
        // Only the range from the first byte: one download, however many ranges.
        b"206" => layout.range_start.is_some() && range_start == b"0",
        _ => false,
    };
    if method != b"GET" || !counted_status {
        return Ok(None);
    }
    let path = decoded(uri).ok_or("cs-uri-stem is not URL-encoded UTF-8")?;
    let Some((slug, version)) = download_of(&path) else {
        return Ok(None);
    };
    let day = std::str::from_utf8(date)
        .ok()
        .and_then(parse_day)
        .ok_or("the date is not yyyy-mm-dd")?;
    let agent = decoded(user_agent).ok_or("cs(User-Agent) is not URL-encoded UTF-8")?;
    Ok(Some(DownloadKey {
        slug,
        version,
        day,
        client: DownloadClient::from_user_agent(Some(&agent)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";

    /// A request line as CloudFront writes it (33 fields, as in AWS's own example).
    pub(crate) fn request(
        date: &str,
        method: &str,
        uri: &str,
        status: &str,
        agent: &str,
        range_start: &str,
    ) -> String {
        format!(
            "{date}\t21:02:31\tLAX1\t392\t192.0.2.100\t{method}\td111111abcdef8.cloudfront.net\t{uri}\t{status}\t-\t{agent}\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\tregistry.example.com\thttps\t23\t0.001\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\tapplication/json\t78\t{range_start}\t-"
        )
    }

    const CLI: &str = "openworkflow/0.4.1";
    const BROWSER: &str = "Mozilla/5.0%20(X11;%20Linux%20x86_64)%20Firefox/133.0";

    fn count(slug: &str, version: &str, day: time::Date, client: &str) -> DownloadKey {
        DownloadKey {
            slug: Slug::parse(slug).unwrap(),
            version: PluginVersion::parse(version).unwrap(),
            day,
            client: DownloadClient::try_from(client.to_owned()).unwrap(),
        }
    }

    #[test]
    fn only_whole_downloads_of_schemas_and_bundles_count() {
        let d = "2026-12-01";
        let lines = [
            "#Version: 1.0".to_owned(),
            FIELDS.to_owned(),
            request(d, "GET", "/plugins/github/1.2.0/schema", "200", CLI, "-"),
            request(d, "GET", "/plugins/github/1.2.0/bundle", "200", CLI, "-"),
            // The index's and the artifact's own paths are the same downloads.
            request(
                d,
                "GET",
                "/index/plugins/github/1.2.0/schema",
                "200",
                BROWSER,
                "-",
            ),
            request(
                d,
                "GET",
                "/artifacts/github/1.3.0-rc.1/0a1b.zip",
                "200",
                "-",
                "-",
            ),
            // Paths arrive URL-encoded.
            request(
                d,
                "GET",
                "/plugins/git%68ub/1.3.0-rc.1/schema",
                "200",
                BROWSER,
                "-",
            ),
            // A ranged download counts once: for the range from byte 0.
            request(d, "GET", "/plugins/github/1.2.0/bundle", "206", CLI, "0"),
            request(
                d,
                "GET",
                "/plugins/github/1.2.0/bundle",
                "206",
                CLI,
                "1048576",
            ),
            // Revalidations, HEADs, errors and other files never count.
            request(d, "GET", "/plugins/github/1.2.0/schema", "304", CLI, "-"),
            request(d, "HEAD", "/plugins/github/1.2.0/schema", "200", CLI, "-"),
            request(d, "GET", "/plugins/github/9.9.9/schema", "404", CLI, "-"),
            request(d, "GET", "/plugins/github/1.2.0/schema", "500", CLI, "-"),
            request(d, "GET", "/plugins/github", "200", CLI, "-"),
            request(d, "GET", "/plugins/github/1.2.0/readme", "200", CLI, "-"),
            request(d, "GET", "/index/plugins/github.json", "200", CLI, "-"),
            request(
                d,
                "GET",
                "/plugins/Not_A_Slug/1.2.0/schema",
                "200",
                CLI,
                "-",
            ),
            request(
                "2026-12-02",
                "GET",
                "/plugins/github/1.2.0/schema",
                "200",
                CLI,
                "-",
            ),
        ];
        let tally = tally_log((lines.join("\n") + "\n").as_bytes()).unwrap();
        assert_eq!(tally.requests, 16);
        assert_eq!(tally.downloads, 7);
        assert_eq!(tally.rejected_total, 0, "{:?}", tally.rejected);
        let day = date!(2026 - 12 - 01);
        assert_eq!(
            tally.counts,
            vec![
                DownloadCount {
                    key: count("github", "1.2.0", day, CLI),
                    count: 3
                },
                DownloadCount {
                    key: count("github", "1.2.0", day, "other"),
                    count: 1
                },
                DownloadCount {
                    key: count("github", "1.2.0", date!(2026 - 12 - 02), CLI),
                    count: 1
                },
                DownloadCount {
                    key: count("github", "1.3.0-rc.1", day, "other"),
                    count: 2
                },
            ]
        );
    }

    #[test]
    fn a_bad_line_is_reported_and_the_rest_still_count() {
        let good = request(
            "2026-12-01",
            "GET",
            "/plugins/github/1.2.0/schema",
            "200",
            CLI,
            "-",
        );
        let short = good.rsplit_once('\t').unwrap().0.to_owned();
        let bad_date = good.replacen("2026-12-01", "yesterday", 1);
        let lines = [
            good.clone(),
            FIELDS.to_owned(),
            good.clone(),
            short,
            bad_date,
            format!("{}\u{0}", "x".repeat(MAX_LINE_BYTES + 10)),
            good,
        ];
        let tally = tally_log(lines.join("\r\n").as_bytes()).unwrap();
        assert_eq!(tally.downloads, 2);
        assert_eq!(tally.counts.len(), 1);
        assert_eq!(tally.counts[0].count, 2);
        assert_eq!(
            tally.rejected,
            vec![
                RejectedLine {
                    line: 1,
                    reason: "no usable #Fields: header before this line".to_owned()
                },
                RejectedLine {
                    line: 4,
                    reason: "32 fields where the #Fields: header names 33".to_owned()
                },
                RejectedLine {
                    line: 5,
                    reason: "the date is not yyyy-mm-dd".to_owned()
                },
                RejectedLine {
                    line: 6,
                    reason: format!("longer than {MAX_LINE_BYTES} bytes")
                },
            ]
        );
    }

    #[test]
    fn fields_are_found_by_name_wherever_they_are() {
        let lines = [
            "#Fields: cs-uri-stem sc-status cs(User-Agent) cs-method date",
            "/plugins/github/1.2.0/schema\t200\topenworkflow/1.0.0\tGET\t2026-12-01",
            // Without sc-range-start, no 206 can be told to be the first range.
            "/plugins/github/1.2.0/schema\t206\topenworkflow/1.0.0\tGET\t2026-12-01",
        ];
        let tally = tally_log(lines.join("\n").as_bytes()).unwrap();
        assert_eq!(tally.downloads, 1);
        let missing = tally_log("#Fields: date cs-method\n".as_bytes()).unwrap();
        assert_eq!(
            missing.rejected[0].reason,
            "the #Fields: header has no cs-uri-stem field"
        );
    }

    #[test]
    fn strangers_cannot_grow_the_clients_of_a_file_without_bound() {
        let mut text = format!("{FIELDS}\n");
        for n in 0..(MAX_CLIENTS_PER_FILE + 50) {
            let agent = format!("openworkflow/{}.{}.0", n / 100, n % 100);
            text.push_str(&request(
                "2026-12-01",
                "GET",
                "/plugins/github/1.2.0/schema",
                "200",
                &agent,
                "-",
            ));
            text.push('\n');
        }
        let tally = tally_log(text.as_bytes()).unwrap();
        assert_eq!(tally.counts.len(), MAX_CLIENTS_PER_FILE + 1);
        let other = tally.counts.last().unwrap();
        assert_eq!(other.key.client, DownloadClient::Other);
        assert_eq!(other.count, 50);
    }
}
