//! A `Pair`-style harness for the sans-IO core, after quinn-proto's `tests/util.rs`: clients
//! (each a [`Core`] and its [`MemoryStore`]), the in-memory [`Relay`], a virtual clock, and a
//! seeded scheduler that moves outputs between them until nothing is left to do.
//!
//! ## The model
//!
//! - **Units of work.** [`World::step`] runs one unit, chosen at random among those ready: a
//!   client logs in, a client's timer fires ([`Core::poll_timeout`] is due), the relay reads one
//!   frame a client wrote, or a client reads one frame the relay wrote. After every input the
//!   client's driver acts on all outputs in order, as `hush-client` does: commits are applied to
//!   the store before anything after them, requests go onto the connection, events to the app.
//! - **Time** only moves when nothing is ready: [`World::drive`] then jumps the clock to the
//!   earliest timer or reconnect, unless that is beyond [`IDLE_HORIZON_MS`] (the hourly upkeep
//!   timer is always armed; anything else the core waits for is shorter).
//! - **Connections.** One QUIC stream per client: reliable and ordered while the connection
//!   lives. Loss therefore means the connection dies ([`World::drop_link`]): frames still in
//!   flight are gone (responses and pushes undelivered; of the requests the client wrote, a
//!   random prefix was already on its way and the relay still acts on it, the rest is lost),
//!   the core hears `handle_disconnected`, and the client logs in again after a random delay;
//!   the relay then redelivers everything unacknowledged.
//! - **Faults** ([`Faults`], drawn from the world's seeded RNG): connection drops before any
//!   network unit; client crashes before any output the driver is about to act on (including
//!   between a commit and the requests and events after it: the crashed core and its remaining
//!   outputs are dropped, its connection dies as above, and a new core is restored from the
//!   store as of the last applied commit); transient refusals of `Send`, `FetchBundle` and
//!   `UploadPreKeys` (which reorder: a later message can be stored before an earlier one);
//!   duplicate pushes of a delivery; relay restarts (every connection drops; the relay's store
//!   is durable). A planned crash ([`World::crash_plan`]) hits one exact output.
//! - **What the app saw** is checked on every event and restart; see [`app`].
//! - **Busy loops are bugs.** A timer that is due, fires, produces nothing and is still due
//!   would spin a real driver; [`World::step`] panics on it. A world that never goes quiet
//!   panics in [`World::drive`] after [`MAX_UNITS`].

#![allow(dead_code)]

pub mod app;
pub mod kem;
pub mod relay;

use std::collections::HashSet;

use hush_client_core::{
    Address, Content, Core, Direction, MemoryStore, MessageId, MessageStatus, Output, Store, StoreOp,
    StoredMessage,
};
use hush_proto::{ErrorCode, Push, ServerFrame};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

pub use app::App;
pub use relay::Relay;

/// Where the virtual clock starts, Unix milliseconds.
pub const START_MS: u64 = 1_750_000_000_000;
/// [`World::drive`] stops when nothing is ready and no timer is due within this long.
pub const IDLE_HORIZON_MS: u64 = 10 * 60 * 1000;
/// Most units one [`World::drive`] runs before declaring a live-lock.
pub const MAX_UNITS: usize = 1_000_000;

/// Fault probabilities. All zero is a perfect network.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Per network unit (the relay reading a frame, a client reading one): the connection dies
    /// first.
    pub link_loss: f64,
    /// Per output the driver is about to act on: the client crashes first.
    pub crash: f64,
    /// Per `Send`, `FetchBundle` or `UploadPreKeys` the relay reads: a transient failure
    /// (`RateLimited`, `QuotaExceeded`, `Internal`) instead; nothing is applied.
    pub refuse: f64,
    /// Per delivery a client reads: the relay pushes it once more on the same connection.
    pub duplicate: f64,
    /// Per unit: the relay restarts.
    pub relay_restart: f64,
    /// Longest wait before logging in again after a drop or crash, milliseconds.
    pub reconnect_max_ms: u64,
}

impl Faults {
    /// A rough network: every kind of fault, often.
    pub fn rough() -> Self {
        Self {
            link_loss: 0.02,
            crash: 0.004,
            refuse: 0.03,
            duplicate: 0.03,
            relay_restart: 0.0005,
            reconnect_max_ms: 3_000,
        }
    }

    /// These probabilities times `factor`.
    pub fn scaled(self, factor: f64) -> Self {
        Self {
            link_loss: self.link_loss * factor,
            crash: self.crash * factor,
            refuse: self.refuse * factor,
            duplicate: self.duplicate * factor,
            relay_restart: self.relay_restart * factor,
            reconnect_max_ms: self.reconnect_max_ms,
        }
    }
}

/// Fault counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Units run.
    pub units: u64,
    /// Connections that died.
    pub link_losses: u64,
    /// Client crashes.
    pub crashes: u64,
    /// Injected refusals.
    pub refusals: u64,
    /// Injected duplicate pushes.
    pub duplicates: u64,
    /// Relay restarts.
    pub relay_restarts: u64,
    /// Timeouts fired.
    pub timeouts: u64,
    /// Messages held for a gap (a later message arrived first).
    pub held: u64,
}

/// A message whose queuing commit was applied (the driver returned its id to the user).
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its id.
    pub id: MessageId,
    /// Recipient.
    pub to: Address,
    /// What it says.
    pub content: Content,
}

/// One client: a core, its store and its app.
pub struct Client {
    /// For messages.
    pub name: &'static str,
    /// The state machine.
    pub core: Core,
    /// Its durable state.
    pub store: MemoryStore,
    /// Its address.
    pub address: Address,
    /// What the app has seen.
    pub app: App,
    /// While offline: when to log in again (`None`: stay offline).
    pub reconnect_at: Option<u64>,
    /// Times crashed.
    pub crashes: u32,
    /// Messages queued durably, in order.
    pub sent: Vec<Sent>,
    /// Incoming messages marked read durably.
    pub read: HashSet<MessageId>,
    /// The app accepts every message request as soon as it sees one (the default, so tests that
    /// are not about requests see every message delivered); `false` leaves them to the test.
    pub accepts_requests: bool,
}

/// Identifies a client in a [`World`].
pub type ClientId = usize;

#[derive(Debug, Clone, Copy)]
enum Unit {
    Connect(ClientId),
    Timer(ClientId),
    RelayRead(ClientId),
    ClientRead(ClientId),
}

/// Clients, the relay, the clock and the fault RNG.
pub struct World {
    /// Virtual time, Unix milliseconds.
    pub now: u64,
    /// The relay.
    pub relay: Relay,
    /// The clients.
    pub clients: Vec<Client>,
    /// Current fault probabilities.
    pub faults: Faults,
    /// Drives scheduling and faults; seeds the cores' RNGs.
    pub rng: StdRng,
    /// Fault counters.
    pub stats: Stats,
    /// A planned crash: client, and how many more outputs it acts on before crashing.
    pub crash_plan: Option<(ClientId, usize)>,
}

impl World {
    /// Alice and Bob, registered, prekeys uploaded, quiet.
    pub fn alice_and_bob(seed: u64) -> (Self, ClientId, ClientId) {
        let mut world = Self::new(seed);
        let alice = world.add_client("alice");
        let bob = world.add_client("bob");
        world.connect(alice);
        world.connect(bob);
        world.drive();
        (world, alice, bob)
    }

    /// An empty world; everything random follows from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            now: START_MS,
            relay: Relay::default(),
            clients: Vec::new(),
            faults: Faults::default(),
            rng: StdRng::seed_from_u64(seed),
            stats: Stats::default(),
            crash_plan: None,
        }
    }

    /// A new client (its account is saved; it is offline until [`World::connect`]).
    pub fn add_client(&mut self, name: &'static str) -> ClientId {
        let rng = StdRng::seed_from_u64(self.rng.next_u64());
        let core = Core::create(self.now, Box::new(rng));
        self.add_core(name, core)
    }

    /// A new device waiting to join an account ([`World::link`] joins it).
    pub fn add_joining_client(&mut self, name: &'static str) -> ClientId {
        let rng = StdRng::seed_from_u64(self.rng.next_u64());
        let core = Core::create_joining(self.now, Box::new(rng));
        self.add_core(name, core)
    }

    /// `holder` links the waiting device `new` (both online): the link message goes through the
    /// relay; drive the world for `new` to join and publish its membership.
    pub fn link(&mut self, holder: ClientId, new: ClientId) {
        let code = self.clients[new].core.link_code().expect("a joining device");
        let now = self.now;
        self.clients[holder]
            .core
            .handle_link_device(now, &code, false, &[])
            .expect("a holder links");
        self.act(holder);
    }

    /// The address of `id`'s account (what a person shares once it has several devices).
    pub fn account_address(&self, id: ClientId) -> Address {
        Address::from_bytes(*self.clients[id].core.account_key().as_bytes()).expect("a valid key")
    }

    fn add_core(&mut self, name: &'static str, mut core: Core) -> ClientId {
        let mut store = MemoryStore::new();
        let mut app = App::default();
        while let Some(output) = core.poll_output() {
            match output {
                Output::Commit(commit) => store.apply(&commit).expect("memory store applies commits"),
                Output::Event(event) => app.on_event(name, event, &store),
                other => panic!("{name}: unexpected output before login: {other:?}"),
            }
        }
        let address = core.address();
        self.clients.push(Client {
            name,
            core,
            store,
            address,
            app,
            reconnect_at: None,
            crashes: 0,
            sent: Vec::new(),
            read: HashSet::new(),
            accepts_requests: true,
        });
        self.clients.len() - 1
    }

    /// Asks `id` to log in at the next step.
    pub fn connect(&mut self, id: ClientId) {
        self.clients[id].reconnect_at = Some(self.now);
    }

    /// Whether `id` has a live connection.
    pub fn is_online(&self, id: ClientId) -> bool {
        self.relay.links.contains_key(&self.clients[id].address.mailbox())
    }

    /// The address of `id`.
    pub fn address(&self, id: ClientId) -> Address {
        self.clients[id].address
    }

    fn chance(&mut self, probability: f64) -> bool {
        probability > 0.0 && self.rng.random_bool(probability.min(1.0))
    }

    fn runnable(&self) -> Vec<Unit> {
        let mut units = Vec::new();
        for (id, client) in self.clients.iter().enumerate() {
            match self.relay.links.get(&client.address.mailbox()) {
                Some(link) => {
                    if client.core.poll_timeout().is_some_and(|time| time <= self.now) {
                        units.push(Unit::Timer(id));
                    }
                    if !link.up.is_empty() {
                        units.push(Unit::RelayRead(id));
                    }
                    if !link.down.is_empty() {
                        units.push(Unit::ClientRead(id));
                    }
                }
                None => {
                    if client.reconnect_at.is_some_and(|time| time <= self.now) {
                        units.push(Unit::Connect(id));
                    }
                }
            }
        }
        units
    }

    /// Runs one ready unit (with faults). `false` if nothing was ready.
    pub fn step(&mut self) -> bool {
        let units = self.runnable();
        if units.is_empty() {
            return false;
        }
        let unit = units[self.rng.random_range(0..units.len())];
        self.stats.units += 1;
        if self.chance(self.faults.relay_restart) {
            self.restart_relay();
            return true;
        }
        match unit {
            Unit::Connect(id) => self.login(id),
            Unit::Timer(id) => self.fire_timer(id),
            Unit::RelayRead(id) => {
                if self.chance(self.faults.link_loss) {
                    self.drop_link(id);
                } else {
                    let refusal = if self.chance(self.faults.refuse) {
                        self.stats.refusals += 1;
                        let codes = [
                            ErrorCode::RateLimited,
                            ErrorCode::QuotaExceeded,
                            ErrorCode::Internal,
                        ];
                        Some(codes[self.rng.random_range(0..codes.len())])
                    } else {
                        None
                    };
                    let mailbox = self.clients[id].address.mailbox();
                    self.relay.read_one(&mailbox, self.now, refusal);
                }
            }
            Unit::ClientRead(id) => {
                if self.chance(self.faults.link_loss) {
                    self.drop_link(id);
                } else {
                    self.client_read(id);
                }
            }
        }
        true
    }

    /// The earliest time something becomes ready: a due timer of an online client or a login.
    pub fn next_wakeup(&self) -> Option<u64> {
        self.clients
            .iter()
            .filter_map(|client| {
                if self.relay.links.contains_key(&client.address.mailbox()) {
                    client.core.poll_timeout()
                } else {
                    client.reconnect_at
                }
            })
            .min()
    }

    /// Runs until nothing is ready and no timer is due within [`IDLE_HORIZON_MS`], moving the
    /// clock to each timer in turn. Panics if that takes more than [`MAX_UNITS`] units.
    pub fn drive(&mut self) {
        assert!(
            self.run(MAX_UNITS),
            "the world did not go quiet in {MAX_UNITS} units (live-lock?)"
        );
    }

    /// Like [`World::drive`] but at most `units` units; returns whether the world went quiet.
    pub fn run(&mut self, units: usize) -> bool {
        for _ in 0..units {
            if self.step() {
                continue;
            }
            match self.next_wakeup() {
                Some(time) if time <= self.now + IDLE_HORIZON_MS => self.now = self.now.max(time),
                _ => return true,
            }
        }
        false
    }

    /// Moves the clock forward (timers due by then fire at the next steps).
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// No more faults; everyone who was online (or waiting to reconnect) logs in now; runs
    /// until quiet.
    pub fn heal(&mut self) {
        self.faults = Faults::default();
        for client in &mut self.clients {
            if let Some(time) = &mut client.reconnect_at {
                *time = (*time).min(self.now);
            }
        }
        self.drive();
    }

    fn login(&mut self, id: ClientId) {
        let now = self.now;
        let identity = *self.clients[id].address.as_bytes();
        let (count, low) = self.relay.login(identity, now);
        let client = &mut self.clients[id];
        client.reconnect_at = None;
        client.core.handle_authenticated(now, count);
        if self.act(id).is_none() {
            return;
        }
        // The driver hands pushes that came with the login answer to the core after it.
        if let Some(remaining) = low {
            self.clients[id]
                .core
                .handle_push(now, Push::PreKeysLow { remaining });
            self.act(id);
        }
    }

    fn fire_timer(&mut self, id: ClientId) {
        let now = self.now;
        self.stats.timeouts += 1;
        let due = self.clients[id].core.poll_timeout();
        self.clients[id].core.handle_timeout(now);
        let Some(produced) = self.act(id) else {
            return;
        };
        let still = self.clients[id].core.poll_timeout();
        assert!(
            produced > 0 || still.is_none_or(|time| time > now),
            "{}: timer due at {due:?} fired at {now}, did nothing, and is still due ({still:?}): \
             a driver would spin",
            self.clients[id].name
        );
    }

    fn client_read(&mut self, id: ClientId) {
        let mailbox = self.clients[id].address.mailbox();
        let Some(frame) = self
            .relay
            .links
            .get_mut(&mailbox)
            .and_then(|link| link.down.pop_front())
        else {
            return;
        };
        if let ServerFrame::Push(Push::Deliver(delivery)) = &frame
            && self.chance(self.faults.duplicate)
            && self.relay.push_again(&mailbox, delivery.seq.0)
        {
            self.stats.duplicates += 1;
        }
        let now = self.now;
        let core = &mut self.clients[id].core;
        match frame {
            ServerFrame::Response { id: request, result } => core.handle_response(now, request, result),
            ServerFrame::Push(push) => core.handle_push(now, push),
        }
        self.act(id);
    }

    /// Acts on every output of `id` in order, crashing first with the configured chance.
    /// Returns how many outputs were acted on, or `None` if the client crashed.
    fn act(&mut self, id: ClientId) -> Option<usize> {
        let mut acted = 0;
        loop {
            let Some(output) = self.clients[id].core.poll_output() else {
                let client = &mut self.clients[id];
                let requests = if client.accepts_requests {
                    client.core.requests()
                } else {
                    Vec::new()
                };
                if requests.is_empty() {
                    return Some(acted);
                }
                for peer in requests {
                    client
                        .core
                        .handle_accept(self.now, peer)
                        .expect("requests are from others");
                }
                continue;
            };
            let planned = match &mut self.crash_plan {
                Some((client, 0)) if *client == id => true,
                Some((client, left)) if *client == id => {
                    *left -= 1;
                    false
                }
                _ => false,
            };
            if planned {
                self.crash_plan = None;
            }
            if planned || self.chance(self.faults.crash) {
                self.crash(id, Some(output));
                return None;
            }
            acted += 1;
            let mailbox = self.clients[id].address.mailbox();
            let client = &mut self.clients[id];
            match output {
                Output::Commit(commit) => {
                    self.stats.held += commit
                        .ops
                        .iter()
                        .filter(|op| matches!(op, StoreOp::PutHeld(_)))
                        .count() as u64;
                    client.store.apply(&commit).expect("memory store applies commits");
                }
                Output::Request(frame) => {
                    let link = self.relay.links.get_mut(&mailbox);
                    let link = link.unwrap_or_else(|| {
                        panic!("{}: request while offline: {:?}", client.name, frame.request)
                    });
                    link.up.push_back(frame);
                }
                Output::Event(event) => client.app.on_event(client.name, event, &client.store),
                other => panic!("{}: unknown output {other:?}", client.name),
            }
        }
    }

    /// The connection of `mailbox` dies: a random prefix of what its client wrote still
    /// reaches the relay, everything else in flight is lost. Returns whether there was one.
    fn cut(&mut self, mailbox: &hush_proto::MailboxId) -> bool {
        if !self.relay.links.contains_key(mailbox) {
            return false;
        }
        let arrived = self.rng.random_range(0..=self.relay.unread(mailbox));
        self.relay.disconnect(mailbox, arrived, self.now);
        true
    }

    /// `id`'s connection dies: see [`World::cut`].
    pub fn drop_link(&mut self, id: ClientId) {
        let mailbox = self.clients[id].address.mailbox();
        if !self.cut(&mailbox) {
            return;
        }
        self.stats.link_losses += 1;
        let now = self.now;
        self.clients[id].core.handle_disconnected(now);
        self.schedule_reconnect(id);
        // handle_disconnected produces nothing today; act anyway, as a driver would.
        self.act(id);
    }

    /// `id`'s connection dies and it stays offline until [`World::connect`].
    pub fn go_offline(&mut self, id: ClientId) {
        self.drop_link(id);
        self.clients[id].reconnect_at = None;
    }

    fn schedule_reconnect(&mut self, id: ClientId) {
        let delay = self.rng.random_range(0..=self.faults.reconnect_max_ms);
        self.clients[id].reconnect_at = Some(self.now + delay);
    }

    /// The relay restarts: every connection drops.
    pub fn restart_relay(&mut self) {
        self.stats.relay_restarts += 1;
        let dropped = self.relay.restart();
        for mailbox in dropped {
            if let Some(id) = self.clients.iter().position(|c| c.address.mailbox() == mailbox) {
                let now = self.now;
                self.clients[id].core.handle_disconnected(now);
                self.schedule_reconnect(id);
                self.act(id);
            }
        }
    }

    /// `id` crashes: its core and every output not yet acted on (`pending` first) are lost, and
    /// a new core starts from the store. See [`app`] for which lost events count as seen.
    pub fn crash(&mut self, id: ClientId, pending: Option<Output>) {
        self.stats.crashes += 1;
        let seed = self.rng.next_u64();
        let now = self.now;
        let mailbox = self.clients[id].address.mailbox();
        let online = self.cut(&mailbox);
        let client = &mut self.clients[id];
        client.crashes += 1;
        let mut lost = Vec::new();
        for output in pending
            .into_iter()
            .chain(std::iter::from_fn(|| client.core.poll_output()))
        {
            if let Output::Event(event) = output {
                lost.push(event);
            }
        }
        client.app.credit_lost(client.name, lost, &client.store);
        let snapshot = client
            .store
            .load()
            .expect("memory store")
            .expect("the account was saved before the first login");
        client.core = Core::restore(now, snapshot, Box::new(StdRng::seed_from_u64(seed)))
            .expect("saved state restores");
        client.app.reload(client.name, &client.store);
        let was_connecting = client.reconnect_at.is_some();
        if online || was_connecting {
            self.schedule_reconnect(id);
        }
    }

    /// `id`'s profile is replaced by `backup`, an older copy of its store (a restore from a
    /// backup): its connection drops, and a new core starts from the copy. The app keeps what it
    /// has seen (the person saw it), so its exactly-once checks span the restore; it takes the
    /// statuses of the restored history.
    pub fn restore_backup(&mut self, id: ClientId, backup: MemoryStore) {
        let seed = self.rng.next_u64();
        let now = self.now;
        let mailbox = self.clients[id].address.mailbox();
        let online = self.cut(&mailbox);
        let client = &mut self.clients[id];
        client.store = backup;
        let snapshot = client
            .store
            .load()
            .expect("memory store")
            .expect("the backup holds the account");
        client.core =
            Core::restore(now, snapshot, Box::new(StdRng::seed_from_u64(seed))).expect("the backup restores");
        client.app.statuses.clear();
        for peer in client.store.peers().expect("memory store") {
            for entry in client
                .store
                .history(&peer, None, usize::MAX)
                .expect("memory store")
            {
                if entry.message.direction == Direction::Outgoing {
                    client.app.statuses.insert(entry.message.id, entry.message.status);
                }
            }
        }
        if online || client.reconnect_at.is_some() {
            client.reconnect_at = Some(self.now);
        }
    }

    /// Queues `content` from `from` to `to`. Returns the id if its commit was applied (the
    /// driver then hands the id to the user); a crash before that loses the message.
    pub fn send(&mut self, from: ClientId, to: Address, content: Content) -> Option<MessageId> {
        let now = self.now;
        let id = self.clients[from]
            .core
            .handle_send(now, to, content.clone())
            .expect("valid content");
        self.act(from);
        let client = &mut self.clients[from];
        client.store.message(&id).expect("memory store")?;
        client.sent.push(Sent { id, to, content });
        Some(id)
    }

    /// Runs a surface call (`handle_react`, `handle_edit`, …) on `from`'s core and acts on its
    /// outputs. `Ok(Some(id))` if its commit was applied; a shown message (a reply, a thread
    /// message) is then recorded as sent.
    pub fn surface(
        &mut self,
        from: ClientId,
        call: impl FnOnce(&mut Core, u64) -> Result<MessageId, hush_client_core::SurfaceError>,
    ) -> Result<Option<MessageId>, hush_client_core::SurfaceError> {
        let now = self.now;
        let id = call(&mut self.clients[from].core, now)?;
        self.act(from);
        let client = &mut self.clients[from];
        let Some(stored) = client.store.message(&id).expect("memory store") else {
            return Ok(None);
        };
        if stored.content.is_shown(&id) {
            client.sent.push(Sent {
                id,
                to: stored.peer,
                content: stored.content,
            });
        }
        Ok(Some(id))
    }

    /// `id`'s app accepts `peer`'s message request.
    pub fn accept(&mut self, id: ClientId, peer: Address) {
        let now = self.now;
        self.clients[id]
            .core
            .handle_accept(now, peer)
            .expect("not our own address");
        self.act(id);
    }

    /// Accounts of one device each named `names`, plus a second device linked to the account of
    /// each client listed in `linked` (named `"<name>-2"` from `second_names`); every client
    /// has every other account as a contact (adding one accepts it and pins its list).
    pub fn contacts(
        seed: u64,
        names: &[&'static str],
        second_names: &[(usize, &'static str)],
    ) -> (Self, Vec<ClientId>) {
        let mut world = Self::new(seed);
        let mut ids: Vec<ClientId> = names.iter().map(|name| world.add_client(name)).collect();
        let seconds: Vec<(usize, ClientId)> = second_names
            .iter()
            .map(|(holder, name)| (*holder, world.add_joining_client(name)))
            .collect();
        for id in ids.iter().chain(seconds.iter().map(|(_, id)| id)) {
            world.connect(*id);
        }
        world.drive();
        for (holder, id) in &seconds {
            world.link(ids[*holder], *id);
            world.drive();
            ids.push(*id);
        }
        let accounts: Vec<Address> = names
            .iter()
            .enumerate()
            .map(|(i, _)| world.account_address(ids[i]))
            .collect();
        for id in &ids {
            let own = world.account_address(*id);
            for account in accounts.iter().filter(|account| **account != own) {
                world.accept(*id, *account);
            }
        }
        world.drive();
        for id in &ids {
            world.clients[*id].app.unordered_peers = true;
        }
        (world, ids)
    }

    /// Runs a group call (`create_group`, `group_add`, ...) on `id`'s core at the world's time
    /// and acts on its outputs.
    pub fn group<T, E>(
        &mut self,
        id: ClientId,
        call: impl FnOnce(&mut Core, u64) -> Result<T, E>,
    ) -> Result<T, E> {
        let now = self.now;
        let result = call(&mut self.clients[id].core, now);
        self.act(id);
        result
    }

    /// `rounds` group messages from each of `senders` in turn (`"<name> <tag> #<n>"`), `units`
    /// of the world between rounds, then healed and driven quiet. Returns, per sender, the texts
    /// that were queued: those whose commit was applied before a crash (the app learns of the
    /// others from the crash itself).
    pub fn group_exchange(
        &mut self,
        senders: &[ClientId],
        group: hush_client_core::groups::GroupId,
        tag: &str,
        rounds: usize,
        units: usize,
    ) -> Vec<(ClientId, Vec<String>)> {
        let mut queued: Vec<(ClientId, Vec<String>)> = senders.iter().map(|id| (*id, Vec::new())).collect();
        for n in 0..rounds {
            for (from, texts) in queued.iter_mut() {
                let text = format!("{} {tag} #{n}", self.clients[*from].name);
                let content = Content::text(text.clone());
                let Ok(id) = self.group(*from, |core, now| core.send_group(now, group, content)) else {
                    panic!("{} could not send to the group", self.clients[*from].name);
                };
                if self.clients[*from].store.message(&id).ok().flatten().is_some() {
                    texts.push(text);
                }
            }
            self.run(units);
        }
        self.heal();
        self.drive();
        queued
    }

    /// `id`'s app blocks `peer`.
    pub fn block(&mut self, id: ClientId, peer: Address) {
        let now = self.now;
        self.clients[id]
            .core
            .handle_block(now, peer)
            .expect("not our own address");
        self.act(id);
    }

    /// `id`'s app reports `peer`.
    pub fn report(&mut self, id: ClientId, peer: Address) {
        let now = self.now;
        self.clients[id]
            .core
            .handle_report(now, peer)
            .expect("not our own address");
        self.act(id);
    }

    /// `id` marks everything unread from `peer` read; returns the ids marked durably.
    pub fn mark_read(&mut self, id: ClientId, peer: Address) -> Vec<MessageId> {
        let now = self.now;
        let unread = self.clients[id].store.unread(&peer).expect("memory store");
        if unread.is_empty() {
            return unread;
        }
        self.clients[id].core.handle_mark_read(now, peer, &unread);
        self.act(id);
        let client = &mut self.clients[id];
        let mut marked = Vec::new();
        for message in unread {
            let status = client
                .store
                .message(&message)
                .expect("memory store")
                .map(|m| m.status);
            if status == Some(MessageStatus::Seen) {
                client.read.insert(message);
                marked.push(message);
            }
        }
        marked
    }

    /// The stored history of `id` with `peer`, oldest first, one direction.
    pub fn history(&self, id: ClientId, peer: Address, direction: Direction) -> Vec<StoredMessage> {
        self.clients[id]
            .store
            .history(&peer, None, usize::MAX)
            .expect("memory store")
            .into_iter()
            .map(|entry| entry.message)
            .filter(|message| message.direction == direction)
            .collect()
    }

    /// The texts in `id`'s history of `conversation` that `sender`'s device wrote and that
    /// start with `prefix` (tests prefix each text with its sender's name), in history order:
    /// outgoing ones when `sender` is a device of `id`'s own account, incoming ones otherwise.
    pub fn texts_by(
        &self,
        id: ClientId,
        conversation: Address,
        sender: ClientId,
        prefix: &str,
    ) -> Vec<String> {
        let direction = if self.account_address(id) == self.account_address(sender) {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        self.history(id, conversation, direction)
            .into_iter()
            .filter_map(|message| match message.content {
                Content::Text(text) if text.starts_with(prefix) => Some(text),
                _ => None,
            })
            .collect()
    }

    /// The status `id`'s store has for `message`.
    pub fn status(&self, id: ClientId, message: &MessageId) -> Option<MessageStatus> {
        self.clients[id]
            .store
            .message(message)
            .expect("memory store")
            .map(|m| m.status)
    }

    /// Everything `from` sent `to` (except messages that failed) arrived exactly once and in
    /// order: in `to`'s app, in `to`'s history, as `from`'s outgoing history; statuses agree
    /// (delivered at least, read exactly when `to` marked it read), and each app's view of the
    /// statuses is the store's.
    pub fn assert_exchange(&self, from: ClientId, to: ClientId) {
        let (sender, receiver) = (&self.clients[from], &self.clients[to]);
        let who = format!("{} → {}", sender.name, receiver.name);
        let sent: Vec<&Sent> = sender
            .sent
            .iter()
            .filter(|s| s.to == receiver.address)
            .filter(|s| self.status(from, &s.id) != Some(MessageStatus::Failed))
            .collect();
        let sent_ids: Vec<MessageId> = sent.iter().map(|s| s.id).collect();
        let seen: Vec<MessageId> = receiver
            .app
            .received
            .get(&sender.address)
            .map(|list| list.iter().map(|m| m.id).collect())
            .unwrap_or_default();
        assert_same_list(&who, "the receiving app's messages", &seen, &sent_ids);
        let incoming = self.history(to, sender.address, Direction::Incoming);
        let outgoing: Vec<StoredMessage> = self
            .history(from, receiver.address, Direction::Outgoing)
            .into_iter()
            .filter(|m| m.status != MessageStatus::Failed)
            .collect();
        assert_eq!(incoming.len(), sent.len(), "{who}: receiver history length");
        assert_eq!(outgoing.len(), sent.len(), "{who}: sender history length");
        for ((s, received), stored) in sent.iter().zip(&incoming).zip(&outgoing) {
            assert_eq!(received.id, s.id, "{who}: receiver history order");
            assert_eq!(stored.id, s.id, "{who}: sender history order");
            assert_eq!(received.content, s.content, "{who}: content");
            assert_eq!(stored.content, s.content, "{who}: sender's content");
            assert_eq!(received.conv_seq, stored.conv_seq, "{who}: conv_seq");
            let read = receiver.read.contains(&s.id);
            assert_eq!(
                received.status,
                if read {
                    MessageStatus::Seen
                } else {
                    MessageStatus::Received
                },
                "{who}: receiver status of {}",
                s.id
            );
            assert_eq!(
                stored.status,
                if read {
                    MessageStatus::Read
                } else {
                    MessageStatus::Delivered
                },
                "{who}: sender status of {}",
                s.id
            );
            assert_eq!(
                sender.app.statuses.get(&s.id),
                Some(&stored.status),
                "{who}: the sender app's status of {} is not the store's",
                s.id
            );
        }
    }

    /// `id` has nothing left to do: empty outbox (core and store), nothing held, nothing
    /// unacknowledged at the relay, nothing in flight.
    pub fn assert_idle(&self, id: ClientId) {
        let client = &self.clients[id];
        let name = client.name;
        assert_eq!(client.core.outbox_len(), 0, "{name}: core outbox not empty");
        let snapshot = client.store.load().expect("memory store").expect("account saved");
        assert!(
            snapshot.outbox.is_empty(),
            "{name}: stored outbox not empty: {:?}",
            snapshot.outbox
        );
        assert!(
            snapshot.held.is_empty(),
            "{name}: held messages left: {:?}",
            snapshot.held
        );
        let mailbox = client.address.mailbox();
        assert_eq!(
            self.relay.queued(&mailbox),
            0,
            "{name}: unacknowledged messages at the relay"
        );
        if let Some(link) = self.relay.links.get(&mailbox) {
            assert!(
                link.up.is_empty() && link.down.is_empty(),
                "{name}: frames in flight"
            );
        }
    }
}

/// Compares two id lists and names the first difference (the lists are long).
fn assert_same_list(who: &str, what: &str, got: &[MessageId], sent: &[MessageId]) {
    let first = got.iter().zip(sent).position(|(a, b)| a != b);
    assert!(
        first.is_none() && got.len() == sent.len(),
        "{who}: {what} are not the sent list: {} seen, {} sent, first difference at {first:?}",
        got.len(),
        sent.len(),
    );
}
