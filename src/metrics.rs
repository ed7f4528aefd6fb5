//! Prometheus metrics kept in process: HTTP request counts and latencies.
//! Gauges that come from the database (pool, outbox depths) are read at
//! scrape time by `web::health`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (method, route pattern, status) -> count
    requests: BTreeMap<(String, String, u16), u64>,
    /// route pattern -> latency histogram
    latency: BTreeMap<String, Histogram>,
    /// inbound email outcome -> count
    inbound: BTreeMap<String, u64>,
}

/// Process-wide metrics registry.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    inner: Mutex<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self { started: Instant::now(), inner: Mutex::new(Inner::default()) }
    }
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Records one HTTP request. `route` is the matched pattern (never the
    /// raw path, to keep label cardinality bounded).
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut inner) = self.inner.lock() else { return };
        *inner.requests.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let h = inner.latency.entry(route.to_string()).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.total += 1;
    }

    /// Counts one inbound email by outcome.
    pub fn observe_inbound(&self, outcome: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.inbound.entry(outcome.to_string()).or_default() += 1;
        }
    }

    /// Renders the in-process metrics in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP tusk_build_info Tusk version.\n# TYPE tusk_build_info gauge");
        let _ = writeln!(out, "tusk_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        let _ = writeln!(
            out,
            "# HELP tusk_uptime_seconds Seconds since the process started.\n# TYPE tusk_uptime_seconds gauge"
        );
        let _ = writeln!(out, "tusk_uptime_seconds {:.3}", self.started.elapsed().as_secs_f64());
        if let Some(rss) = resident_memory_bytes() {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge"
            );
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        let Ok(inner) = self.inner.lock() else { return };
        let _ = writeln!(
            out,
            "# HELP tusk_http_requests_total HTTP requests by method, route and status.\n# TYPE tusk_http_requests_total counter"
        );
        for ((method, route, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "tusk_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape_label(method),
                escape_label(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP tusk_inbound_emails_total Inbound emails received over HTTP, by outcome.\n# TYPE tusk_inbound_emails_total counter"
        );
        for (outcome, count) in &inner.inbound {
            let _ = writeln!(out, "tusk_inbound_emails_total{{outcome=\"{}\"}} {count}", escape_label(outcome));
        }
        let _ = writeln!(
            out,
            "# HELP tusk_http_request_duration_seconds HTTP request latency by route.\n# TYPE tusk_http_request_duration_seconds histogram"
        );
        for (route, h) in &inner.latency {
            let route = escape_label(route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "tusk_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ =
                writeln!(out, "tusk_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.total);
            let _ = writeln!(out, "tusk_http_request_duration_seconds_sum{{route=\"{route}\"}} {:.6}", h.sum);
            let _ = writeln!(out, "tusk_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.total);
        }
    }
}

/// Resident set size of this process, from /proc (Linux); `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.observe_request("GET", "/healthz", 200, Duration::from_millis(3));
        m.observe_request("GET", "/healthz", 200, Duration::from_millis(30));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("tusk_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"), "{out}");
        assert!(out.contains("tusk_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("tusk_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.05\"} 2"), "{out}");
        assert!(out.contains("tusk_http_request_duration_seconds_count{route=\"/healthz\"} 2"));
    }
}
