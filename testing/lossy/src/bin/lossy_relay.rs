//! The relay the restart scenario kills: `lossy-relay <listen> <data-dir>` runs the relay
//! library as `hush-relay` does (SQLite store in `data-dir`, its certificate kept there, no
//! metrics), prints `relay <address>#<fingerprint hex>` once it listens, and runs until killed.

use std::net::SocketAddr;
use std::path::PathBuf;

use hush_relay::{Config, Relay};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(data_dir)) = (args.next(), args.next()) else {
        eprintln!("usage: lossy-relay <listen address> <data directory>");
        return std::process::ExitCode::from(2);
    };
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("not a socket address: {listen}");
        return std::process::ExitCode::from(2);
    };
    let config = Config {
        listen,
        metrics_listen: None,
        data_dir: PathBuf::from(data_dir),
        ..Config::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let relay = match Relay::bind(config).await {
            Ok(relay) => relay,
            Err(error) => {
                eprintln!("cannot start the relay: {error}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let address = match relay.local_addr() {
            Ok(address) => address,
            Err(error) => {
                eprintln!("no local address: {error}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let fingerprint: String = relay
            .fingerprint()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        println!("relay {address}#{fingerprint}");
        relay.run(std::future::pending()).await;
        std::process::ExitCode::SUCCESS
    })
}
