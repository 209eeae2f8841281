//! CPU time and resident memory of a process, read from Linux `/proc`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Which process to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// This process.
    Current,
    /// Another process (a child relay).
    Other(u32),
}

impl Pid {
    fn dir(self) -> PathBuf {
        match self {
            Self::Current => PathBuf::from("/proc/self"),
            Self::Other(pid) => PathBuf::from(format!("/proc/{pid}")),
        }
    }
}

/// Process CPU time (user + system) at an instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    ticks: u64,
    at: Instant,
}

impl CpuSample {
    /// Reads `pid`'s CPU time now.
    pub fn take(pid: Pid) -> anyhow::Result<Self> {
        let path = pid.dir().join("stat");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Self {
            ticks: cpu_ticks(&text)?,
            at: Instant::now(),
        })
    }

    /// CPU used between `earlier` and `self`, in percent of one core.
    pub fn percent_since(&self, earlier: &Self, ticks_per_second: u64) -> f64 {
        let wall = self.at.saturating_duration_since(earlier.at);
        if wall.is_zero() {
            return 0.0;
        }
        let cpu = Duration::from_secs_f64(
            self.ticks.saturating_sub(earlier.ticks) as f64 / ticks_per_second.max(1) as f64,
        );
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    }
}

/// `utime + stime` (clock ticks) from the text of `/proc/<pid>/stat`. The command name (field 2)
/// is in parentheses and may itself hold spaces or parentheses, so fields are counted from the
/// last `)`: then field 3 (state) comes first, and utime and stime are fields 14 and 15.
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        bail!("no command name in /proc stat line");
    };
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let mut next = || -> anyhow::Result<u64> {
        fields
            .next()
            .context("/proc stat line too short")?
            .parse::<u64>()
            .context("non-numeric CPU time in /proc stat")
    };
    let utime = next()?;
    let stime = next()?;
    Ok(utime.saturating_add(stime))
}

/// CPU time (clock ticks) of each of `pid`'s threads, summed by thread name, sorted by name.
/// Threads that exit between two readings drop out, so this is a breakdown, not a total.
pub fn thread_ticks(pid: Pid) -> anyhow::Result<BTreeMap<String, ThreadGroup>> {
    let tasks = pid.dir().join("task");
    let mut groups = BTreeMap::<String, ThreadGroup>::new();
    for entry in std::fs::read_dir(&tasks).with_context(|| format!("listing {}", tasks.display()))? {
        let dir = entry?.path();
        // A thread may exit between listing and reading: skip it.
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue;
        };
        let group = groups.entry(name.trim().to_owned()).or_default();
        group.threads += 1;
        group.ticks = group.ticks.saturating_add(cpu_ticks(&stat)?);
    }
    Ok(groups)
}

/// Threads of one name.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadGroup {
    /// How many.
    pub threads: usize,
    /// Their CPU time, clock ticks.
    pub ticks: u64,
}

/// Resident set size of `pid`, KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: Pid) -> anyhow::Result<u64> {
    let path = pid.dir().join("status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    vm_rss_kib(&text)
}

fn vm_rss_kib(status: &str) -> anyhow::Result<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .context("no VmRSS line in /proc status")?;
    let value = line.trim().trim_end_matches("kB").trim();
    value.parse().context("non-numeric VmRSS")
}

/// Clock ticks per second (`getconf CLK_TCK`); 100, the Linux value on every common
/// architecture, if `getconf` is missing.
pub fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_counts_fields_after_the_command_name() {
        let stat = "4242 (hush (re) lay) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    1500 250 0 0 20 0 6 0 123 456 789";
        assert_eq!(cpu_ticks(stat).unwrap(), 1750);
        assert!(cpu_ticks("4242 (x) S 1 2").is_err());
        assert!(cpu_ticks("no name").is_err());
    }

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\thush-relay\nVmPeak:\t  99999 kB\nVmRSS:\t   51234 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_kib(status).unwrap(), 51_234);
        assert!(vm_rss_kib("Name:\tx\n").is_err());
    }

    #[test]
    fn cpu_share_is_cpu_time_over_wall_time() {
        let at = Instant::now();
        let earlier = CpuSample { ticks: 1_000, at };
        let later = CpuSample {
            ticks: 1_050,
            at: at + Duration::from_secs(2),
        };
        // 50 ticks at 100 a second is 0.5 s of CPU in 2 s: a quarter of one core.
        assert!((later.percent_since(&earlier, 100) - 25.0).abs() < 1e-9);
        assert!((later.percent_since(&earlier, 250) - 10.0).abs() < 1e-9);
        // No time passed, or the samples are swapped: nothing, not a division by zero.
        assert_eq!(later.percent_since(&later, 100), 0.0);
        assert_eq!(earlier.percent_since(&later, 100), 0.0);
    }

    #[test]
    fn a_busy_loop_in_our_own_process_shows_up_as_cpu_time() {
        assert!(rss_kib(Pid::Current).unwrap() > 0);
        let first = CpuSample::take(Pid::Current).unwrap();
        // Spin until the kernel has charged this process two more ticks (bounded by wall time,
        // so a reader that sees no CPU time fails instead of hanging).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut spins = 0u64;
        let mut second = first;
        while second.ticks < first.ticks + 2 && Instant::now() < deadline {
            for _ in 0..100_000 {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
            second = CpuSample::take(Pid::Current).unwrap();
        }
        assert!(
            second.ticks >= first.ticks + 2,
            "a busy loop was charged {} ticks",
            second.ticks - first.ticks
        );
        assert!(second.percent_since(&first, ticks_per_second()) > 0.0);
    }
}
