//! A server in a child process (the `hush-relay` binary or `hush-bench baseline-server`): start
//! it, read the `ADDR#FINGERPRINT` line it prints, keep its output drained, kill it when done.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::mpsc;

use crate::procfs::Pid;

/// How long a child may take to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running child server. Killed on drop, so an early error leaves no stray process.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    /// Where clients connect.
    pub addr: SocketAddr,
    /// The certificate fingerprint clients pin.
    pub fingerprint: [u8; 32],
    /// The stdout lines after the address line, for a caller that wants one of them.
    lines: Option<mpsc::UnboundedReceiver<String>>,
}

impl ChildServer {
    /// Starts `command` and waits for a stdout line `<prefix>ADDR#FINGERPRINT`.
    pub async fn start(mut command: Command, prefix: &'static str) -> anyhow::Result<Self> {
        let program = format!("{:?}", command.get_program());
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let stdout = child.stdout.take().context("child stdout is piped")?;
        let (sender, mut lines) = mpsc::unbounded_channel();
        // A plain thread: it blocks on the pipe for the child's whole life, and keeps draining
        // it (whether or not anyone still reads the lines) so the child never blocks on a full
        // pipe while logging.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = sender.send(line);
            }
        });
        let address = async {
            while let Some(line) = lines.recv().await {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Some(rest.trim().to_owned());
                }
            }
            None
        };
        let line = match tokio::time::timeout(STARTUP_TIMEOUT, address).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                let status = child.wait().ok();
                bail!("{program} exited ({status:?}) before printing {prefix:?}");
            }
            Err(_) => {
                let _ = child.kill();
                bail!("{program} printed no {prefix:?} line within {STARTUP_TIMEOUT:?}");
            }
        };
        let (addr, fingerprint) = parse_target(&line)?;
        Ok(Self {
            child,
            addr,
            fingerprint,
            lines: Some(lines),
        })
    }

    /// The rest of the first later stdout line that starts with `prefix`, waiting for it up
    /// to the startup timeout; `None` if the child never prints it. Lines before it are
    /// skipped, and the lines after it are no longer kept.
    pub async fn line_after(&mut self, prefix: &str) -> Option<String> {
        let mut lines = self.lines.take()?;
        let found = async {
            while let Some(line) = lines.recv().await {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Some(rest.trim().to_owned());
                }
            }
            None
        };
        tokio::time::timeout(STARTUP_TIMEOUT, found).await.ok().flatten()
    }

    /// The child's pid, for `/proc` readings.
    pub fn pid(&self) -> Pid {
        Pid::Other(self.child.id())
    }

    /// The child's process id.
    pub fn process_id(&self) -> u32 {
        self.child.id()
    }

    /// Kills the child and reaps it.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Parses `ADDR#FINGERPRINTHEX` as the relay prints it (`relay address for clients: ...`).
pub fn parse_target(text: &str) -> anyhow::Result<(SocketAddr, [u8; 32])> {
    let (addr, fingerprint) = text
        .trim()
        .split_once('#')
        .with_context(|| format!("expected ADDR#FINGERPRINT, got {text:?}"))?;
    let addr = addr
        .to_socket_addrs()
        .with_context(|| format!("bad address {addr:?}: expected HOST:PORT"))?
        .next()
        .with_context(|| format!("{addr:?} resolves to no address"))?;
    let fingerprint = hush_relay::tls::from_hex::<32>(fingerprint)
        .with_context(|| format!("bad fingerprint {fingerprint:?}: expected 64 hex digits"))?;
    Ok((addr, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_bad_ones_are_refused() {
        let hex = "ab".repeat(32);
        let (addr, fingerprint) = parse_target(&format!("127.0.0.1:7443#{hex}\n")).unwrap();
        assert_eq!(addr, "127.0.0.1:7443".parse::<SocketAddr>().unwrap());
        assert_eq!(fingerprint, [0xab; 32]);
        assert!(parse_target("127.0.0.1:7443").is_err());
        assert!(parse_target(&format!("nohost#{hex}")).is_err());
        assert!(parse_target("127.0.0.1:7443#abcd").is_err());
    }
}
