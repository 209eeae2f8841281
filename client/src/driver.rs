//! The tokio task that runs the core: it feeds the core commands from the app, frames from the
//! relay and timer expiries, applies the core's commits to the store *before* acting on the
//! requests and events that follow them, and reconnects with exponential backoff and jitter.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_client_core::{Address, Commit, Contact, Content, Core, MessageId, Output, SendError, Store};
use hush_proto::{RegistrationToken, ServerFrame};
use rand_core::Rng as _;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::device_command::DeviceCommand;
use crate::error::{ClientError, StopReason};
use crate::events::{ClientEvent, ConnectionState};
use crate::net::{CONNECT_TIMEOUT, Incoming, NetError, RelayConnection, UnreachableReason};
use crate::relay_address::RelayAddress;
use crate::store::SqlStore;

/// First reconnect delay; doubles per failed attempt.
pub const RECONNECT_BASE: Duration = Duration::from_millis(250);
/// Longest reconnect delay: someone may be waiting in a chat, so a relay that comes back is
/// found within seconds (the jitter spreads the clients of a restarted relay over half of it).
pub const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// Most frames taken from the relay before the outputs are acted on, so a burst of deliveries
/// shares one store transaction.
const BATCH: usize = 256;
/// Longest a shutdown waits for the relay to take the ephemerals it queued ("last seen").
const LEAVE_WAIT: Duration = Duration::from_secs(1);

/// Unix milliseconds now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    })
}

/// What the app asks of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Send {
        to: Address,
        content: Content,
        reply: oneshot::Sender<Result<MessageId, ClientError>>,
    },
    MarkRead {
        peer: Address,
        ids: Vec<MessageId>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// A reaction, edit, delete, reply or thread message (`surface_command.rs`).
    Surface(crate::surface_command::SurfaceCommand),
    /// Make, change, list a group, or send to one (`group_command.rs`).
    Group(crate::group_command::GroupCommand),
    /// Answered once logged in with prekeys uploaded, or with the error of the next failed
    /// connection attempt.
    WaitOnline {
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Accept, block or report a peer; answered once durable.
    Peer {
        peer: Address,
        action: PeerAction,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Add or replace a contact; answered once durable.
    PutContact {
        contact: Contact,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Remove a contact by name; answered once durable.
    RemoveContact {
        name: String,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Rename contact `old` to `contact.name` in one commit; answered once durable.
    RenameContact {
        old: String,
        contact: Contact,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// The peers whose message requests wait.
    Requests {
        reply: oneshot::Sender<Vec<Address>>,
    },
    /// About our account and its devices.
    Device(DeviceCommand),
    /// Typing or the presence setting (`client/typing.rs`); nothing to answer.
    Ephemeral(crate::ephemeral_command::EphemeralCommand),
    /// Re-try connecting now (the app knows the network is back).
    Reconnect,
    /// Move the live connection to a new local socket; answers whether there was one.
    Rebind {
        reply: oneshot::Sender<Result<bool, ClientError>>,
    },
    /// Send this token with the logins until one succeeds; connect again now with it.
    SetRegistrationToken(RegistrationToken),
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// What to do about a peer (see `hush_client_core::Core::handle_accept` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerAction {
    Accept,
    Block,
    Report,
}

/// An answer owed once the commit the command produced is durable (the id of a queued message
/// is returned only then).
pub(crate) enum Deferred {
    Send {
        reply: oneshot::Sender<Result<MessageId, ClientError>>,
        result: Result<MessageId, SendError>,
    },
    Done {
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Code {
        reply: oneshot::Sender<Result<hush_crypto::devices::LinkCode, ClientError>>,
        code: Box<hush_crypto::devices::LinkCode>,
    },
    Group {
        reply: oneshot::Sender<Result<hush_client_core::groups::GroupId, ClientError>>,
        group: hush_client_core::groups::GroupId,
    },
}

impl Deferred {
    fn send(self, durable: bool, fatal: Option<&StopReason>) {
        let stopped = || ClientError::Stopped(fatal.cloned().unwrap_or(StopReason::Ended));
        match self {
            Self::Send { reply, result } => {
                let answer = match result {
                    Ok(id) if durable => Ok(id),
                    Ok(_) => Err(stopped()),
                    Err(SendError::ToSelf) => Err(ClientError::SendToSelf),
                    Err(error) => Err(ClientError::InvalidContent(error)),
                };
                let _ = reply.send(answer);
            }
            Self::Done { reply } => {
                let _ = reply.send(if durable { Ok(()) } else { Err(stopped()) });
            }
            Self::Code { reply, code } => {
                let _ = reply.send(if durable { Ok(*code) } else { Err(stopped()) });
            }
            Self::Group { reply, group } => {
                let _ = reply.send(if durable { Ok(group) } else { Err(stopped()) });
            }
        }
    }
}

pub(crate) struct Driver {
    pub(crate) core: Core,
    pub(crate) store: Arc<Mutex<SqlStore>>,
    pub(crate) relay: RelayAddress,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: mpsc::UnboundedSender<ClientEvent>,
    connection: Option<RelayConnection>,
    /// A connection attempt in progress (a task, so commands are served meanwhile).
    connecting: Option<tokio::task::JoinHandle<Result<RelayConnection, NetError>>>,
    next_attempt: Instant,
    failures: u32,
    waiters: Vec<oneshot::Sender<Result<(), ClientError>>>,
    /// Waiting for this profile to join an account.
    pub(crate) join_waiters: Vec<oneshot::Sender<hush_crypto::devices::AccountKey>>,
    fatal: Option<StopReason>,
    /// Sent with each login until one succeeds (then the mailbox exists and needs none).
    registration: Option<RegistrationToken>,
    /// A login is under way on `connection` and fails if not answered by then.
    login_deadline: Option<Instant>,
}

impl Driver {
    pub(crate) fn new(
        core: Core,
        store: Arc<Mutex<SqlStore>>,
        relay: RelayAddress,
        commands: mpsc::Receiver<Command>,
        events: mpsc::UnboundedSender<ClientEvent>,
    ) -> Self {
        Self {
            core,
            store,
            relay,
            commands,
            events,
            connection: None,
            connecting: None,
            next_attempt: Instant::now(),
            failures: 0,
            waiters: Vec::new(),
            join_waiters: Vec::new(),
            fatal: None,
            registration: None,
            login_deadline: None,
        }
    }

    /// Runs until shut down or until every `Client` handle is dropped.
    pub(crate) async fn run(mut self) {
        // Outputs left from start-up (a new account's commit) first.
        self.flush().await;
        let mut shutdown_reply = None;
        loop {
            let timer = self
                .core
                .poll_timeout()
                .map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(now_ms())));
            let online = self.connection.is_some();
            let connecting = self.connecting.is_some();
            let expiry = if self.fatal.is_none() {
                self.next_expiry()
            } else {
                None
            };
            tokio::select! {
                command = self.commands.recv() => {
                    let Some(first) = command else { break };
                    // Take every command already waiting, so concurrent sends share one
                    // transaction; answer them once it is durable.
                    let mut deferred = Vec::new();
                    let mut next = Some(first);
                    let mut taken = 0;
                    while let Some(command) = next.take() {
                        if let Command::Shutdown { reply } = command {
                            // With presence on, contacts hear "last seen now" before we go.
                            self.core.handle_leaving(now_ms());
                            shutdown_reply = Some(reply);
                            break;
                        }
                        if let Some(answer) = self.command(command) {
                            deferred.push(answer);
                        }
                        taken += 1;
                        if taken < BATCH {
                            next = self.commands.try_recv().ok();
                        }
                    }
                    let durable = self.flush().await;
                    for answer in deferred {
                        answer.send(durable, self.fatal.as_ref());
                    }
                    if shutdown_reply.is_some() {
                        self.wait_for_ephemerals().await;
                        if let Some(connection) = self.connection.take() {
                            connection.close_and_wait().await;
                        }
                        if let Some(attempt) = self.connecting.take() {
                            attempt.abort();
                        }
                        break;
                    }
                }
                incoming = recv(&mut self.connection), if online => {
                    self.incoming(incoming);
                    // Take what else is already there, so it shares one transaction.
                    for _ in 1..BATCH {
                        let Some(connection) = self.connection.as_mut() else { break };
                        match connection.incoming.try_recv() {
                            Ok(incoming) => self.incoming(incoming),
                            Err(_) => break,
                        }
                    }
                    self.flush().await;
                }
                () = tokio::time::sleep_until(self.next_attempt), if !online && !connecting && self.fatal.is_none() => {
                    let _ = self.events.send(ClientEvent::Connection(ConnectionState::Connecting));
                    let relay = self.relay.clone();
                    self.connecting = Some(tokio::spawn(async move { RelayConnection::open(&relay).await }));
                }
                attempt = join_opt(&mut self.connecting), if connecting => {
                    self.connecting = None;
                    let attempt = attempt.unwrap_or_else(|_| Err(NetError::Unreachable {
                        address: self.relay.to_string(),
                        reason: UnreachableReason::Cancelled,
                    }));
                    self.connected(attempt).await;
                }
                () = sleep_until_opt(self.login_deadline), if self.login_deadline.is_some() => {
                    self.login_failed(NetError::Unreachable {
                        address: self.relay.to_string(),
                        reason: UnreachableReason::Timeout,
                    });
                    self.flush().await;
                }
                () = sleep_until_opt(timer), if timer.is_some() => {
                    self.core.handle_timeout(now_ms());
                    self.flush().await;
                }
                () = sleep_until_opt(expiry), if expiry.is_some() => self.expire_due().await,
            }
        }
        // Release the database (and its lock) before saying we are done, so the profile can be
        // opened again at once.
        drop(self);
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    /// Applies a command to the core. Answers that must wait for the commit come back deferred.
    fn command(&mut self, command: Command) -> Option<Deferred> {
        if let Some(reason) = &self.fatal {
            let error = ClientError::Stopped(reason.clone());
            match command {
                Command::Send { reply, .. } => drop(reply.send(Err(error))),
                Command::MarkRead { reply, .. }
                | Command::WaitOnline { reply }
                | Command::Peer { reply, .. }
                | Command::PutContact { reply, .. }
                | Command::RemoveContact { reply, .. }
                | Command::RenameContact { reply, .. } => drop(reply.send(Err(error))),
                Command::Requests { reply } => drop(reply.send(Vec::new())),
                Command::Rebind { reply } => drop(reply.send(Err(error))),
                Command::Device(command) => command.refuse(error),
                Command::Surface(command) => command.refuse(error),
                Command::Group(command) => command.refuse(error),
                Command::Reconnect
                | Command::SetRegistrationToken(_)
                | Command::Ephemeral(_)
                | Command::Shutdown { .. } => {}
            }
            return None;
        }
        match command {
            Command::Send { to, content, reply } => {
                let result = self.core.handle_send(now_ms(), to, content);
                Some(Deferred::Send { reply, result })
            }
            Command::MarkRead { peer, ids, reply } => {
                self.core.handle_mark_read(now_ms(), peer, &ids);
                Some(Deferred::Done { reply })
            }
            Command::PutContact { contact, reply } => {
                self.core.handle_put_contact(contact);
                Some(Deferred::Done { reply })
            }
            Command::RemoveContact { name, reply } => {
                self.core.handle_remove_contact(name);
                Some(Deferred::Done { reply })
            }
            Command::RenameContact { old, contact, reply } => {
                self.core.handle_rename_contact(old, contact);
                Some(Deferred::Done { reply })
            }
            Command::Peer { peer, action, reply } => {
                let now = now_ms();
                let result = match action {
                    PeerAction::Accept => self.core.handle_accept(now, peer),
                    PeerAction::Block => self.core.handle_block(now, peer),
                    PeerAction::Report => self.core.handle_report(now, peer),
                };
                match result {
                    Ok(()) => Some(Deferred::Done { reply }),
                    Err(_) => {
                        let _ = reply.send(Err(ClientError::SendToSelf));
                        None
                    }
                }
            }
            Command::Requests { reply } => {
                let _ = reply.send(self.core.requests());
                None
            }
            Command::Device(command) => self.device_command(command),
            Command::Surface(command) => self.surface_command(command),
            Command::Group(command) => self.group_command(command),
            Command::Ephemeral(command) => {
                command.apply(&mut self.core, now_ms());
                None
            }
            Command::WaitOnline { reply } => {
                if self.core.is_online() && !self.core.is_uploading_prekeys() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.waiters.push(reply);
                }
                None
            }
            Command::Reconnect => {
                // The app knows the network changed: a connection over the old path may be dead
                // without a word until the idle timeout, so it is replaced too. What it left
                // unanswered is resent after the new login (the peer drops copies by id).
                if self.core.is_online() {
                    self.disconnected("reconnecting as asked".into());
                }
                if self.connecting.is_none() {
                    self.next_attempt = Instant::now();
                }
                None
            }
            Command::Rebind { reply } => {
                let rebound = match &self.connection {
                    Some(connection) => connection
                        .rebind()
                        .map(|()| true)
                        .map_err(|error| ClientError::Relay(error.into())),
                    None => Ok(false),
                };
                let _ = reply.send(rebound);
                None
            }
            Command::SetRegistrationToken(token) => {
                if !self.core.is_online() {
                    self.registration = Some(token);
                    // An attempt under way went without the token: start again with it, so
                    // whoever waits to be registered hears the token's answer.
                    if let Some(attempt) = self.connecting.take() {
                        attempt.abort();
                    }
                    if self.login_deadline.take().is_some()
                        && let Some(connection) = self.connection.take()
                    {
                        connection.close();
                        self.core.handle_disconnected(now_ms());
                    }
                    self.next_attempt = Instant::now();
                }
                None
            }
            Command::Shutdown { .. } => None,
        }
    }

    /// Closing discards unsent data: a "last seen" queued by the shutdown goes out first, for
    /// at most [`LEAVE_WAIT`].
    async fn wait_for_ephemerals(&mut self) {
        let deadline = Instant::now() + LEAVE_WAIT;
        while self.core.ephemerals_in_flight() > 0 && self.connection.is_some() {
            match tokio::time::timeout_at(deadline, recv(&mut self.connection)).await {
                Ok(incoming) => self.incoming(incoming),
                Err(_) => break,
            }
        }
        self.flush().await;
    }

    fn incoming(&mut self, incoming: Incoming) {
        let now = now_ms();
        match incoming {
            Incoming::Frame(ServerFrame::Response { id, result }) => {
                self.core.handle_response(now, id, result)
            }
            Incoming::Frame(ServerFrame::Push(push)) => self.core.handle_push(now, push),
            Incoming::Closed(error) => self.connection_lost(error, "connection closed"),
        }
    }

    async fn connected(&mut self, opened: Result<RelayConnection, NetError>) {
        match opened {
            Ok(connection) => {
                self.core
                    .handle_connected(now_ms(), connection.exporter, self.registration.clone());
                self.connection = Some(connection);
                // The login takes two round trips (ping and challenge, then the signed login)
                // after the handshake's one: its own timeout from here, so a path with a
                // 2-second round trip still logs in (sharing one 5 s budget, 1.7 s was the most).
                self.login_deadline = Some(Instant::now() + CONNECT_TIMEOUT);
                self.flush().await;
            }
            Err(error) => {
                let reason = error.to_string();
                self.schedule_reconnect(&reason);
                for waiter in self.waiters.drain(..) {
                    let _ = waiter.send(Err(ClientError::Relay(error.clone())));
                }
            }
        }
    }

    /// The relay accepted the login.
    fn logged_in(&mut self) {
        self.login_deadline = None;
        self.failures = 0;
        self.registration = None;
        let _ = self.events.send(ClientEvent::Connection(ConnectionState::Online));
    }

    /// The login failed (the core already counts the connection gone): whoever waits for one
    /// hears why.
    fn login_failed(&mut self, error: NetError) {
        self.login_deadline = None;
        if let Some(connection) = self.connection.take() {
            connection.close();
        }
        self.core.handle_disconnected(now_ms());
        self.schedule_reconnect(&error.to_string());
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(ClientError::Relay(error.clone())));
        }
    }

    /// The connection broke: during a login that fails it, after one it is a disconnection.
    fn connection_lost(&mut self, error: NetError, reason: &str) {
        if self.login_deadline.is_some() {
            self.login_failed(error);
        } else {
            self.disconnected(reason.into());
        }
    }

    fn disconnected(&mut self, reason: String) {
        self.login_deadline = None;
        if let Some(connection) = self.connection.take() {
            connection.close();
        }
        self.core.handle_disconnected(now_ms());
        self.schedule_reconnect(&reason);
    }

    fn schedule_reconnect(&mut self, reason: &str) {
        self.failures = self.failures.saturating_add(1);
        let base = RECONNECT_BASE.saturating_mul(1 << self.failures.min(8).saturating_sub(1));
        let ceiling = base.min(RECONNECT_MAX);
        // Full jitter on the upper half: clients that lost one relay do not return in step.
        let half = ceiling / 2;
        let half_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rand::rng().next_u64() % half_ms.saturating_add(1));
        let delay = half + jitter;
        self.next_attempt = Instant::now() + delay;
        let _ = self
            .events
            .send(ClientEvent::Connection(ConnectionState::Offline {
                reason: reason.to_owned(),
                retry_in: delay,
            }));
    }

    /// Acts on every output: commits first (merged into one transaction), then requests and
    /// events in order. Returns whether the commits are durable.
    async fn flush(&mut self) -> bool {
        let mut commit = Commit::default();
        let mut after = Vec::new();
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Commit(next) => commit.ops.extend(next.ops),
                other => after.push(other),
            }
        }
        if !commit.is_empty() {
            let store = Arc::clone(&self.store);
            let applied = tokio::task::spawn_blocking(move || {
                let mut store = store.lock().map_err(|_| StopReason::LockPoisoned)?;
                store
                    .apply(&commit)
                    .map_err(|error| StopReason::StoreWrite(Arc::new(error)))
            })
            .await;
            let failure = match applied {
                Ok(Ok(())) => None,
                Ok(Err(reason)) => Some(reason),
                Err(error) => Some(StopReason::Task(Arc::new(error))),
            };
            if let Some(reason) = failure {
                // Nothing after an unapplied commit may be acted on: no ack, no send, no event.
                // Stop; the state on disk is the last good one.
                self.stop(reason);
                return false;
            }
        }
        for output in after {
            match output {
                Output::Request(frame) => {
                    let written = match self.connection.as_mut() {
                        Some(connection) => connection.write(&frame).await,
                        None => Err(NetError::Lost),
                    };
                    if let Err(error) = written
                        && self.connection.is_some()
                    {
                        self.connection_lost(error, "write failed");
                    }
                }
                Output::Event(event) => {
                    let _ = self.events.send(ClientEvent::Core(event));
                }
                Output::LoggedIn => self.logged_in(),
                Output::LoginFailed(error) => self.login_failed(error.into()),
                _ => {}
            }
        }
        if self.core.is_online() && !self.core.is_uploading_prekeys() {
            for waiter in self.waiters.drain(..) {
                let _ = waiter.send(Ok(()));
            }
        }
        self.answer_join_waiters();
        true
    }

    pub(crate) fn stop(&mut self, reason: StopReason) {
        self.login_deadline = None;
        if let Some(connection) = self.connection.take() {
            connection.close();
        }
        self.core.handle_disconnected(now_ms());
        let _ = self.events.send(ClientEvent::Stopped(reason.to_string()));
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(ClientError::Stopped(reason.clone())));
        }
        self.fatal = Some(reason);
    }
}

async fn recv(connection: &mut Option<RelayConnection>) -> Incoming {
    match connection {
        Some(connection) => connection
            .incoming
            .recv()
            .await
            .unwrap_or(Incoming::Closed(NetError::Lost)),
        None => std::future::pending().await,
    }
}

async fn join_opt<T>(task: &mut Option<tokio::task::JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
