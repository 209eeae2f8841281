//! `hush`: a command-line Hush client for people and demos.
//!
//! A profile is a directory holding the encrypted database and the relay address. The
//! passphrase comes from `HUSH_PASSPHRASE` or is read from the first line of standard input.

mod chat;
mod init;
mod passphrase;
mod profile;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use hush_client::{
    Address, ClientEvent, ConnectionState, Content, Event, MessageStatus, RegistrationToken, RelayAddress,
};

use crate::profile::Profile;

/// How long `send` waits for the relay to store a message before leaving it queued.
const SEND_WAIT: Duration = Duration::from_secs(10);
/// How long `inbox` waits, once online, for no more messages to arrive.
const INBOX_QUIET: Duration = Duration::from_millis(700);

#[derive(Debug, Parser)]
#[command(
    name = "hush",
    version,
    about = "End-to-end encrypted messaging over a Hush relay",
    after_help = "Environment:\n  \
        HUSH_PROFILE     the profile directory (as --profile)\n  \
        HUSH_PASSPHRASE  the profile's passphrase; without it hush asks at a terminal (twice for \
        `init`), or reads the first line of standard input"
)]
struct Cli {
    /// Profile directory.
    #[arg(
        long,
        short = 'p',
        env = "HUSH_PROFILE",
        default_value = "hush-profile",
        global = true
    )]
    profile: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a profile, register it with the relay and print the address to share. The relay
    /// is tried first: a malformed address, a relay that does not answer or one whose
    /// certificate does not match the fingerprint leaves nothing behind.
    Init {
        /// The relay address the relay printed: host:port#fingerprint.
        #[arg(long, env = "HUSH_RELAY")]
        relay: String,
        /// Create the profile without trying the relay (it need not be reachable yet); register
        /// later with `hush register`, after `hush relay set ADDRESS` if the address changes.
        #[arg(long)]
        offline: bool,
    },
    /// Register with the relay (again), with a registration token from its operator if the
    /// relay asks for one. `init` registers already where the relay needs no token.
    Register {
        /// The token the operator issued for this profile's address
        /// (`hush-relay registration-token`).
        #[arg(long, env = "HUSH_REGISTRATION_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Print this profile's address and safety-number half.
    Address,
    /// Manage contacts.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Show the safety number with a contact; `--verify` records that you compared it.
    Safety {
        /// Contact name.
        name: String,
        /// Mark the contact verified.
        #[arg(long)]
        verify: bool,
    },
    /// Send one message.
    Send {
        /// Contact name or address.
        to: String,
        /// The text.
        text: String,
    },
    /// Fetch new messages and list conversations.
    Inbox,
    /// Chat interactively: a terminal UI with every conversation; incoming messages appear as
    /// they arrive. Without a terminal (or with --plain) a line mode: type a line to send it.
    Chat {
        /// Contact name or address.
        with: String,
        /// The line mode even at a terminal (for scripts).
        #[arg(long)]
        plain: bool,
    },
    /// Fetch new messages and list the message requests: first messages from people you have
    /// never answered, held until you accept them.
    Requests,
    /// Accept a message request: its messages are delivered and the sender gets your access key.
    Accept {
        /// Contact name or address.
        who: String,
    },
    /// Block an address: its messages are dropped and your access key is rotated.
    Block {
        /// Contact name or address.
        who: String,
    },
    /// Report an address to the relay (it learns that this address wrote to you) and block it.
    Report {
        /// Contact name or address.
        who: String,
    },
    /// The profile's relay.
    #[command(subcommand)]
    Relay(RelayCommand),
    /// The profile's passphrase.
    #[command(subcommand)]
    Passphrase(passphrase::PassphraseCommand),
}

#[derive(Debug, Subcommand)]
enum RelayCommand {
    /// Print the relay address this profile uses.
    Show,
    /// Use another relay address (a relay that moved, or a wrong address given to `init`); the
    /// identity, contacts and history stay.
    Set {
        /// The relay address the relay printed: host:port#fingerprint.
        address: String,
    },
}

#[derive(Debug, Subcommand)]
enum ContactCommand {
    /// Add (or change) a contact.
    Add {
        /// Your name for them.
        name: String,
        /// Their address (hush:…).
        address: String,
    },
    /// List contacts.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.downcast_ref::<QueuedNotSent>().is_some() => {
            eprintln!("{error:#}");
            ExitCode::from(QUEUED_EXIT)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { relay, offline } => init::run(&cli.profile, &relay, offline).await,
        Command::Register { token } => register(&cli.profile, token.as_deref()).await,
        Command::Address => {
            let profile = Profile::open(&cli.profile).await?;
            print_identity(&profile);
            profile.client.shutdown().await?;
            Ok(())
        }
        Command::Contact(ContactCommand::Add { name, address }) => {
            let profile = Profile::open(&cli.profile).await?;
            let address: Address = address.parse().context("that is not a Hush address")?;
            let update = profile.client.add_contact(&name, address).await?;
            println!("{name}: {update:?}");
            profile.client.shutdown().await?;
            Ok(())
        }
        Command::Contact(ContactCommand::List) => {
            let profile = Profile::open(&cli.profile).await?;
            for contact in profile.client.contacts().await? {
                let mark = if contact.verified { " (verified)" } else { "" };
                println!("{}\t{}{mark}", contact.name, contact.address);
            }
            profile.client.shutdown().await?;
            Ok(())
        }
        Command::Safety { name, verify } => {
            let profile = Profile::open(&cli.profile).await?;
            let contact = profile.client.contact(&name).await?;
            let number = profile.client.safety_number(&contact.address);
            println!("safety number with {name}: {}", number.to_display_string());
            if verify {
                profile.client.verify_contact(&name).await?;
                println!("{name} marked verified");
            }
            profile.client.shutdown().await?;
            Ok(())
        }
        Command::Send { to, text } => send(&cli.profile, &to, text).await,
        Command::Inbox => inbox(&cli.profile).await,
        Command::Chat { with, plain } => chat::run(&cli.profile, &with, plain).await,
        Command::Requests => requests(&cli.profile).await,
        Command::Accept { who } => peer_action(&cli.profile, &who, PeerAction::Accept).await,
        Command::Block { who } => peer_action(&cli.profile, &who, PeerAction::Block).await,
        Command::Report { who } => peer_action(&cli.profile, &who, PeerAction::Report).await,
        Command::Passphrase(command) => passphrase::run(&cli.profile, command),
        Command::Relay(RelayCommand::Show) => {
            println!("{}", profile::relay(&cli.profile)?);
            Ok(())
        }
        Command::Relay(RelayCommand::Set { address }) => {
            let relay: RelayAddress = address
                .parse()
                .with_context(|| format!("bad relay address {address:?}"))?;
            profile::set_relay(&cli.profile, &relay)?;
            println!("relay of {} set to {relay}", cli.profile.display());
            Ok(())
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum PeerAction {
    Accept,
    Block,
    Report,
}

async fn requests(dir: &std::path::Path) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    if let Err(error) = profile.client.register().await {
        eprintln!("warning: {error}; showing what is stored");
    } else {
        profile.wait_quiet(INBOX_QUIET).await?;
    }
    let requests = profile.client.requests().await?;
    if requests.is_empty() {
        println!("no message requests");
    }
    for peer in requests {
        println!("request from {peer} (hush accept|block|report <address>)");
    }
    profile.client.shutdown().await?;
    Ok(())
}

async fn peer_action(dir: &std::path::Path, who: &str, action: PeerAction) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let peer = profile.resolve(who).await?;
    // Online first, so a report and the rotated access key reach the relay now.
    if let Err(error) = profile.client.register().await {
        eprintln!("warning: {error}; the relay hears of it at the next connection");
    }
    match action {
        PeerAction::Accept => profile.client.accept(peer).await?,
        PeerAction::Block => profile.client.block(peer).await?,
        PeerAction::Report => profile.client.report(peer).await?,
    }
    // Let the requests this produced go out before shutting down.
    profile.wait_quiet(INBOX_QUIET).await?;
    println!("{who}: {action:?} done");
    profile.client.shutdown().await?;
    Ok(())
}

pub(crate) fn print_identity(profile: &Profile) {
    let address = profile.client.address();
    println!("address: {address}");
    let half = hush_crypto::SafetyNumber::half_for(&address.identity(), address.to_string().as_bytes());
    println!("safety number (your half): {half}");
}

async fn register(dir: &std::path::Path, token: Option<&str>) -> Result<()> {
    let token: Option<RegistrationToken> = token
        .map(|text| text.parse().context("that is not a registration token"))
        .transpose()?;
    let profile = Profile::open(dir).await?;
    if let Some(token) = token {
        profile.client.set_registration_token(token).await?;
    }
    let registered = profile.client.register().await;
    profile.client.shutdown().await?;
    registered?;
    println!("registered with relay {}", profile.relay);
    Ok(())
}

async fn send(dir: &std::path::Path, to: &str, text: String) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let peer = profile.resolve(to).await?;
    let id = profile.client.send(peer, Content::text(text)).await?;
    println!("queued {id}");
    // Until the relay stores it, the first failed connection attempt, or SEND_WAIT.
    let outcome = tokio::time::timeout(SEND_WAIT, async {
        while let Some(event) = profile.events.next().await {
            match event {
                ClientEvent::Core(Event::StatusChanged {
                    id: changed, status, ..
                }) if changed == id => {
                    return Ok(status);
                }
                ClientEvent::Connection(ConnectionState::Offline { reason, .. }) => return Err(reason),
                ClientEvent::Stopped(reason) => return Err(format!("stopped: {reason}")),
                _ => {}
            }
        }
        Err("the client stopped".to_owned())
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {} s", SEND_WAIT.as_secs())));
    profile.client.shutdown().await?;
    match outcome {
        Ok(MessageStatus::Failed) => bail!("the relay has no mailbox for {to}; message not delivered"),
        Ok(_) => {
            println!("sent");
            Ok(())
        }
        Err(reason) => Err(QueuedNotSent(reason).into()),
    }
}

/// `send` could not hand the message to the relay; it stays queued (exit code
/// [`QUEUED_EXIT`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "relay not reachable ({0}): the message is queued, not sent; the next command that reaches \
     the relay sends it"
)]
struct QueuedNotSent(String);

/// Exit code of a `send` whose message stayed queued.
const QUEUED_EXIT: u8 = 3;

async fn inbox(dir: &std::path::Path) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    if let Err(error) = profile.client.register().await {
        eprintln!("warning: {error}; showing what is stored");
    } else {
        // Queued messages arrive right after login; wait until they stop coming.
        profile.wait_quiet(INBOX_QUIET).await?;
    }
    for peer in profile.client.conversations().await? {
        let name = profile.display_name(&peer).await?;
        let history = profile.client.history(peer, None, 5).await?;
        println!("== {name}");
        for entry in history {
            println!("  {}", chat::format_message(&entry.message, &name));
        }
    }
    profile.client.shutdown().await?;
    Ok(())
}
