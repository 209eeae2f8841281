//! The `hush` binary run as a child process on a profile directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use hush_client::Address;

pub const PASSPHRASE: &str = "correct horse battery staple";

/// A CLI profile directory.
pub struct Hush {
    pub dir: PathBuf,
}

/// What one `hush` run printed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Hush {
    /// `hush init` in a fresh directory under `root`; returns the profile and its address.
    pub async fn init(root: &Path, name: &str, relay: &hush_client::RelayAddress) -> (Self, Address) {
        let hush = Self { dir: root.join(name) };
        let run = hush.ok(&["init", "--relay", &relay.to_string()]).await;
        let address = run
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix("address: "))
            .unwrap_or_else(|| panic!("no address in:\n{}", run.stdout))
            .parse()
            .unwrap();
        (hush, address)
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        // Times in the text output are local: UTC unless a test asks for another zone.
        self.run_in_zone(args, "UTC").await
    }

    /// Runs with the time zone `tz` (a POSIX `TZ` value).
    pub async fn run_in_zone(&self, args: &[&str], tz: &str) -> Run {
        self.run_with(args, &[("TZ", tz)]).await
    }

    /// Runs with the variables `env` set as well.
    pub async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
            .args(args)
            .env("HUSH_PROFILE", &self.dir)
            .env("HUSH_PASSPHRASE", PASSPHRASE)
            .env("TZ", "UTC")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Runs and expects success.
    pub async fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(
            run.code,
            Some(0),
            "hush {args:?} failed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run
    }

    /// Runs and expects failure with `code`, saying `says` on standard error.
    pub async fn fails(&self, args: &[&str], code: i32, says: &str) {
        let run = self.run(args).await;
        assert_eq!(
            run.code,
            Some(code),
            "hush {args:?}:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.contains(says),
            "hush {args:?} does not say {says:?}:\n{}",
            run.stderr
        );
    }
}
