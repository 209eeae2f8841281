//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory, then `postgres`
//! on a unix socket in that directory and no TCP port (so nothing clashes with another cluster).
//! One cluster per test binary, started by the first test that asks; every test gets a fresh
//! database of its own ([`fresh_database`]), so tests stay independent and may run in parallel.
//!
//! Used by the store's unit tests and, through `#[path]`, by `tests/postgres.rs`.
//!
//! PostgreSQL refuses to run as root, and tests run as root in CI: as root, the cluster's
//! directory is handed to the `postgres` user and the server runs as that user (`runuser`).
//!
//! The server stops when the test process exits, however it exits: a shell runs it and waits for
//! end-of-file on its stdin, a pipe whose only writer is this process.
//!
//! The server's log comes back on the shell's stdout; the cluster is ready when the server logs
//! that it accepts connections (nothing polls for it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OnceCell, oneshot};

/// Superuser the cluster is created with (whatever the OS user), trusted on the socket.
const USER: &str = "hush";
/// The most a cluster may take to accept connections; a CI machine under load takes seconds.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// What the server logs once it accepts connections (every version since 9.x).
const READY_LINE: &str = "database system is ready to accept connections";

/// Runs the server until stdin reaches end-of-file, then stops it (fast shutdown); once the
/// server has exited, for that or any other reason, removes the cluster's directory and exits.
/// Only the server holds the shell's stdout while it runs, so the log ends when it exits. `$1`
/// postgres binary, `$2` data directory, `$3` the cluster directory (socket and data).
const SUPERVISOR: &str = r#"
exec 3>&1 >/dev/null
"$1" -D "$2" -k "$3" -c listen_addresses= -c fsync=off -c full_page_writes=off \
    -c max_connections=300 -c log_destination=stderr -c logging_collector=off >&3 2>&3 &
server=$!
exec 3>&-
# An asynchronous list reads /dev/null unless told otherwise: hand it the pipe on fd 4.
exec 4<&0
(cat <&4 >/dev/null; kill -INT "$server" 2>/dev/null) &
exec 4<&-
wait "$server"
rm -rf "$3"
"#;

/// A running cluster.
pub struct Cluster {
    /// Holds the socket (`host=` in connection strings), the data and the log.
    dir: PathBuf,
    /// The supervising shell.
    supervisor: Mutex<Child>,
    /// Closing it stops the server; held until the process exits.
    stop: Mutex<Option<ChildStdin>>,
    /// The server's log so far.
    log: Arc<Mutex<String>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Only reached if a cluster is ever dropped (the shared one lives in a static, and is
        // stopped by the process's exit closing this pipe instead).
        drop(
            self.stop
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .take(),
        );
        let _ = self
            .supervisor
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .wait();
    }
}

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(1);

/// The connection string of a new, empty database on the shared cluster.
pub async fn fresh_database() -> String {
    let cluster = CLUSTER.get_or_init(start).await;
    let name = format!("t_{}", NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
    let admin = cluster.connect("postgres").await.unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    cluster.url(&name)
}

impl Cluster {
    /// A `key=value` connection string for `database`.
    pub fn url(&self, database: &str) -> String {
        format!("host={} user={USER} dbname={database}", self.dir.display())
    }

    /// A client on `database`, its connection driven by a task of the current runtime.
    pub async fn connect(&self, database: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) =
            tokio_postgres::connect(&self.url(database), tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

/// Reads the server's log to its end on a thread of its own (so the server never blocks on a
/// full pipe), keeping it in `log`; `ready` fires at [`READY_LINE`], and is dropped unfired if the
/// log ends first (the server exited).
fn follow_log(output: ChildStdout, log: Arc<Mutex<String>>, ready: oneshot::Sender<()>) {
    std::thread::spawn(move || {
        let mut ready = Some(ready);
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if line.contains(READY_LINE)
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(());
            }
            let mut log = log.lock().unwrap_or_else(|poison| poison.into_inner());
            log.push_str(&line);
            log.push('\n');
        }
    });
}

async fn start() -> Cluster {
    let initdb = binary("initdb");
    // The server of the same installation as initdb, if it has one there.
    let postgres = initdb
        .canonicalize()
        .ok()
        .and_then(|path| Some(path.parent()?.join("postgres")))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| binary("postgres"));
    // Removed on drop until the supervisor owns it (and removes it when it stops).
    let temp = tempfile::Builder::new().prefix("hush-pg-").tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let data = dir.join("data");
    let as_postgres = is_root();
    if as_postgres {
        run(Command::new("chown").arg("postgres:").arg(&dir));
    }
    let mut init = as_user(as_postgres, &initdb);
    init.arg("-D").arg(&data).args([
        "-U",
        USER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]);
    run(&mut init);
    let mut supervisor = as_user(as_postgres, "sh");
    supervisor
        .args(["-c", SUPERVISOR, "sh"])
        .arg(&postgres)
        .arg(&data)
        .arg(&dir)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = supervisor
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", postgres.display()));
    let stop = child.stdin.take();
    let log = Arc::new(Mutex::new(String::new()));
    let (ready, started) = oneshot::channel();
    follow_log(child.stdout.take().unwrap(), log.clone(), ready);
    let dir = temp.keep();
    let cluster = Cluster {
        dir,
        supervisor: Mutex::new(child),
        stop: Mutex::new(stop),
        log,
    };
    match tokio::time::timeout(START_DEADLINE, started).await {
        Ok(Ok(())) => cluster,
        Ok(Err(_)) => panic!("PostgreSQL exited while starting; its log:\n{}", cluster.log()),
        Err(_) => panic!(
            "PostgreSQL did not start within {START_DEADLINE:?}; its log:\n{}",
            cluster.log()
        ),
    }
}

/// `program` as this user or, as root, as the `postgres` user.
fn as_user(as_postgres: bool, program: impl AsRef<OsStr>) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("running {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether this process runs as root (PostgreSQL's binaries then refuse to run as it).
fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// A PostgreSQL binary: on `PATH`, else in Debian's `/usr/lib/postgresql/<version>/bin`, newest
/// version first.
fn binary(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    if let Some(path) = on_path {
        return path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(Path::new("/usr/lib/postgresql"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin").join(name)))
        })
        .filter(|(_, path)| path.is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, path)| path).unwrap_or_else(|| {
        panic!("no PostgreSQL `{name}` on PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL (Debian: apt-get install postgresql)")
    })
}
