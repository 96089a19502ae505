//! Measuring: results and their verdicts, medians, resident memory, timed processes.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::Xacct;
use serde_json::Value;

/// Results, in the order measured.
pub(crate) struct Results {
    pub(crate) rows: Vec<(String, String, String)>,
    pub(crate) json: serde_json::Map<String, Value>,
}

impl Results {
    pub(crate) fn add(&mut self, name: &str, measured: String, verdict: String, data: Value) {
        eprintln!("{name}: {measured} — {verdict}");
        self.rows.push((name.to_owned(), measured, verdict));
        self.json.insert(name.to_owned(), data);
    }
}

pub(crate) fn median_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

pub(crate) fn target(met: bool, goal: &str) -> String {
    format!("{} (target {goal})", if met { "met" } else { "MISSED" })
}

/// Peak resident memory of this process since the last reset, in MiB.
pub(crate) fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") as f64 / 1024.0
}

pub(crate) fn rss_mib() -> f64 {
    status_kib("VmRSS:") as f64 / 1024.0
}

pub(crate) fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Samples this process's RSS every 20 ms on its own thread, for a peak that a
/// measurement reset cannot see (other threads' allocations come and go between resets).
pub(crate) struct PeakSampler {
    sampling: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl PeakSampler {
    pub(crate) fn start() -> PeakSampler {
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let thread = std::thread::spawn({
            let sampling = sampling.clone();
            move || {
                let mut peak = 0.0f64;
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(rss_mib());
                    std::thread::sleep(Duration::from_millis(20));
                }
                peak
            }
        });
        PeakSampler { sampling, thread }
    }

    /// The peak RSS seen, in MiB.
    pub(crate) fn stop(self) -> f64 {
        self.sampling
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Starts a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM).
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub(crate) fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
}

/// The peak resident memory of process `pid` so far (VmHWM), in MiB.
pub(crate) fn peak_rss_of(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `xacct run` as a process: its wall time and its peak RSS (sampled every 5 ms; VmHWM
/// only grows, so the last sample is the peak but for the last few ms).
pub(crate) fn timed_run(dir: &std::path::Path, args: &[&str]) -> (Duration, f64, Value) {
    let started = Instant::now();
    // The log is not read: to /dev/null, so that it never fills a pipe and stalls the run.
    let mut child = Xacct::in_dir(dir)
        .args(args)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .command()
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        stdout.read_to_end(&mut text).unwrap();
        text
    });
    let mut peak = 0.0f64;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_rss_of(child.id()));
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let report: Value = serde_json::from_slice(&reader.join().unwrap()).unwrap();
    (elapsed, peak, report)
}
