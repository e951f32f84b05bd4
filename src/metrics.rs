//! Counters for `/metrics`, in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the request latency histogram.
const BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0];

#[derive(Default)]
pub struct Metrics {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub uploads_in_progress: AtomicU64,
    pub analyses_running: AtomicU64,
    pub analyses_done: AtomicU64,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<Histogram>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn record_request(&self, method: &str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method.to_owned(), status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let mut h = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        h.count += 1;
        h.sum += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        counter(
            &mut out,
            "pxhub_bytes_received_total",
            "File bytes received by uploads.",
            "counter",
            self.bytes_in.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pxhub_bytes_sent_total",
            "File bytes sent by downloads.",
            "counter",
            self.bytes_out.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pxhub_uploads_in_progress",
            "Uploads being received now.",
            "gauge",
            self.uploads_in_progress.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pxhub_analyses_running",
            "File analyses running now.",
            "gauge",
            self.analyses_running.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pxhub_analyses_done_total",
            "File analyses finished by this process.",
            "counter",
            self.analyses_done.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP pxhub_http_requests_total HTTP requests answered.\n# TYPE pxhub_http_requests_total counter"
        );
        for ((method, status), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "pxhub_http_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        let h = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "# HELP pxhub_http_request_duration_seconds Time to answer a request (to the response head).\n# TYPE pxhub_http_request_duration_seconds histogram");
        for (bound, n) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(out, "pxhub_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "pxhub_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            out,
            "pxhub_http_request_duration_seconds_sum {}\npxhub_http_request_duration_seconds_count {}",
            h.sum, h.count
        );
        out
    }
}
