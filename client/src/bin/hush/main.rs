//! `hush`: a command-line Hush client for people and demos.
//!
//! A profile is a directory holding the encrypted database and the relay address. The
//! passphrase comes from `HUSH_PASSPHRASE` or is read from the first line of standard input.

mod chat;
mod commands;
mod profile;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands::peer::PeerAction;
use crate::commands::send::{QUEUED_EXIT, QueuedNotSent};

#[derive(Debug, Parser)]
#[command(
    name = "hush",
    version,
    about = "End-to-end encrypted messaging over a Hush relay",
    after_help = "Environment:\n  \
        HUSH_PROFILE     the profile directory (as --profile)\n  \
        HUSH_PASSPHRASE  the profile's passphrase; without it hush asks at a terminal (twice for \
        `init`), or reads the first line of standard input\n  \
        HUSH_NEW_PASSPHRASE  the new passphrase for `passphrase change` (see its --help)\n  \
        HUSH_BACKUP_PASSPHRASE  the passphrase of a backup file for `backup export` and `backup import`"
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
        #[arg(long, conflicts_with = "link")]
        offline: bool,
        /// This is a new device of an existing account: print a link code and wait until a
        /// device of the account runs `hush device link CODE` (the new device shows the code,
        /// the existing one types it).
        #[arg(long)]
        link: bool,
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
    /// Fetch new messages and show each conversation's latest, the new ones marked `*`.
    ///
    /// The new ones are then marked read (their sender gets a read receipt).
    Inbox {
        #[command(flatten)]
        output: Output,
    },
    /// Page back through a conversation, oldest first within a page.
    ///
    /// When there are older messages, the page ends with the command that shows them (with
    /// `--before POSITION`). Shows what is stored (no fetch) and marks nothing read.
    History {
        /// Contact name or address.
        contact: String,
        /// Messages per page.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        limit: u64,
        /// Show the messages before this position (printed at the end of the previous page).
        #[arg(long, value_name = "POSITION", value_parser = commands::history::position)]
        before: Option<u64>,
        #[command(flatten)]
        output: Output,
    },
    /// Search the local history: messages holding every word (`word*` matches a prefix),
    /// newest first, with the words marked in context.
    ///
    /// Searches what is stored (no fetch). When there are older results, the page ends with
    /// the command that shows them (with `--before POSITION`).
    Search {
        /// The words to look for.
        #[arg(required = true)]
        words: Vec<String>,
        /// Search only the conversation with this contact name or address.
        #[arg(long, value_name = "CONTACT")]
        with: Option<String>,
        /// Results per page.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=200))]
        limit: u64,
        /// Show the results before this position (printed at the end of the previous page).
        #[arg(long, value_name = "POSITION", value_parser = commands::history::position)]
        before: Option<u64>,
    },
    /// Fetch new messages and list the conversations with their unread counts.
    ///
    /// Most recent first: the contact's name (or the address), the unread count, and the
    /// latest message.
    Conversations {
        #[command(flatten)]
        output: Output,
    },
    /// Chat interactively: a terminal UI with every conversation; incoming messages appear as
    /// they arrive. Without a terminal (or with --plain) a line mode: type a line to send it.
    Chat {
        /// Contact name or address.
        #[arg(required_unless_present = "group", conflicts_with = "group")]
        with: Option<String>,
        /// Chat in a group instead (its name or the id `hush group list` prints); always the
        /// line mode: typed lines go to every member, incoming lines name their author.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
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
    Passphrase(commands::passphrase::PassphraseCommand),
    /// Write this profile to an encrypted backup file, or restore one into a new profile.
    #[command(subcommand)]
    Backup(commands::backup::BackupCommand),
    /// The devices of this profile's account.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Groups of contacts: one message reaches every member's devices.
    #[command(subcommand)]
    Group(GroupCommand),
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Make a group with you as admin and CONTACTS as members (contacts you have exchanged
    /// messages with).
    Create {
        /// The group's name.
        name: String,
        /// The members' contact names (or addresses).
        contacts: Vec<String>,
    },
    /// Add contacts to a group (admins only).
    Add {
        /// The group's name or id.
        group: String,
        /// The contacts to add.
        contacts: Vec<String>,
    },
    /// Remove members from a group (admins only): the others change their keys, so the removed
    /// ones cannot read what follows.
    Remove {
        /// The group's name or id.
        group: String,
        /// The members to remove.
        contacts: Vec<String>,
    },
    /// Leave a group (its history stays).
    Leave {
        /// The group's name or id.
        group: String,
    },
    /// List your groups with their ids and members.
    List,
    /// Send a message to a group.
    Send {
        /// The group's name or id.
        group: String,
        /// The text.
        text: String,
    },
    /// Show a group's latest messages with who wrote each.
    History {
        /// The group's name or id.
        group: String,
        /// How many messages.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Link the new device that shows CODE (`hush init --link` prints it) to this account.
    Link {
        /// The code the new device printed.
        code: String,
        /// Hand it the account key too: it can then link and remove devices itself (keep two
        /// such devices, so losing one does not freeze the account; a stolen one can re-add
        /// itself, see SECURITY.md).
        #[arg(long)]
        holder: bool,
    },
    /// List the account's devices (ids, when each was added, which one is this).
    List,
    /// Remove a device: the account's devices and contacts send it nothing more, and the relay
    /// deletes its mailbox.
    Remove {
        /// The device's id from `hush device list` (or a unique prefix of 8 digits or more).
        id: String,
    },
    /// A profile made by `init --link` that has not joined yet: print a new code and wait again.
    Join,
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
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Remove a contact (its name; the conversation stays).
    ///
    /// The conversation stays, listed under the address, and so does their access: they keep
    /// your access key and can still write to you; `hush block ADDRESS` stops that.
    Remove {
        /// The contact's name.
        name: String,
    },
    /// Rename a contact (address, verified mark and history stay).
    Rename {
        /// The current name.
        old: String,
        /// The new name (not another contact's).
        new: String,
    },
}

/// The output format of the listing commands.
#[derive(Debug, clap::Args)]
struct Output {
    /// Print one line of JSON instead of text (the shapes are in the README): message ids and
    /// addresses are strings, times are unix milliseconds in `*_ms` fields.
    #[arg(long)]
    json: bool,
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
    let dir = cli.profile.as_path();
    match cli.command {
        Command::Init { relay, offline, link } => commands::init::init(dir, &relay, offline, link).await,
        Command::Register { token } => commands::init::register(dir, token.as_deref()).await,
        Command::Address => commands::init::address(dir).await,
        Command::Contact(ContactCommand::Add { name, address }) => {
            commands::contact::add(dir, &name, &address).await
        }
        Command::Contact(ContactCommand::List { output }) => commands::contact::list(dir, output.json).await,
        Command::Contact(ContactCommand::Remove { name }) => commands::contact::remove(dir, &name).await,
        Command::Contact(ContactCommand::Rename { old, new }) => {
            commands::contact::rename(dir, &old, &new).await
        }
        Command::Safety { name, verify } => commands::safety::run(dir, &name, verify).await,
        Command::Send { to, text } => commands::send::run(dir, &to, text).await,
        Command::Inbox { output } => commands::inbox::run(dir, output.json).await,
        Command::History {
            contact,
            limit,
            before,
            output,
        } => {
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            commands::history::run(dir, &contact, limit, before, output.json).await
        }
        Command::Search {
            words,
            with,
            limit,
            before,
        } => {
            let query = commands::search::Query {
                words: &words,
                with: with.as_deref(),
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
                before,
            };
            commands::search::run(dir, query).await
        }
        Command::Conversations { output } => commands::conversations::run(dir, output.json).await,
        Command::Chat { with, group, plain } => match (with, group) {
            (_, Some(group)) => chat::run_group(dir, &group).await,
            (Some(with), None) => chat::run(dir, &with, plain).await,
            (None, None) => anyhow::bail!("name a contact, or a group with --group"),
        },
        Command::Requests => commands::peer::requests(dir).await,
        Command::Accept { who } => commands::peer::act(dir, &who, PeerAction::Accept).await,
        Command::Block { who } => commands::peer::act(dir, &who, PeerAction::Block).await,
        Command::Report { who } => commands::peer::act(dir, &who, PeerAction::Report).await,
        Command::Passphrase(command) => commands::passphrase::run(dir, command),
        Command::Backup(command) => commands::backup::run(dir, command).await,
        Command::Relay(RelayCommand::Show) => commands::relay::show(dir),
        Command::Relay(RelayCommand::Set { address }) => commands::relay::set(dir, &address),
        Command::Device(DeviceCommand::Link { code, holder }) => {
            commands::device::link(dir, &code, holder).await
        }
        Command::Device(DeviceCommand::List) => commands::device::list(dir).await,
        Command::Device(DeviceCommand::Remove { id }) => commands::device::remove(dir, &id).await,
        Command::Device(DeviceCommand::Join) => commands::device::join(dir).await,
        Command::Group(GroupCommand::Create { name, contacts }) => {
            commands::group::create(dir, &name, &contacts).await
        }
        Command::Group(GroupCommand::Add { group, contacts }) => {
            commands::group::add(dir, &group, &contacts).await
        }
        Command::Group(GroupCommand::Remove { group, contacts }) => {
            commands::group::remove(dir, &group, &contacts).await
        }
        Command::Group(GroupCommand::Leave { group }) => commands::group::leave(dir, &group).await,
        Command::Group(GroupCommand::List) => commands::group::list(dir).await,
        Command::Group(GroupCommand::Send { group, text }) => commands::group::send(dir, &group, text).await,
        Command::Group(GroupCommand::History { group, limit }) => {
            commands::group::history(dir, &group, limit).await
        }
    }
}
