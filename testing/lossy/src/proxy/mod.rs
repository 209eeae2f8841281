//! The proxy on tokio: one listening socket for the clients, one upstream socket per client
//! source address (so the relay sees distinct clients), and one scheduler that sends each
//! datagram when its [`Fate`](crate::Fate) says.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::link::{Impairment, Link};

mod schedule;

use schedule::{Timed, send_loop};

/// Largest datagram forwarded (QUIC's are at most 1,500 bytes here; room to spare).
const MAX_DATAGRAM: usize = 65_535;

/// Which way a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to relay.
    Up,
    /// Relay to client.
    Down,
}

/// What the proxy has done so far, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Datagrams that arrived.
    pub received: u64,
    /// Datagrams sent on (copies counted).
    pub sent: u64,
    /// Datagrams dropped (loss, partition or a full rate-limit queue).
    pub dropped: u64,
    /// Bytes sent on (copies counted).
    pub bytes_sent: u64,
}

/// The proxy's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client to relay.
    pub up: Counts,
    /// Relay to client.
    pub down: Counts,
    /// Client source addresses seen.
    pub flows: usize,
    /// Upstream rebinds so far.
    pub rebinds: u32,
}

/// One client source address and its way to the relay.
struct Flow {
    upstream: Arc<UdpSocket>,
    reader: JoinHandle<()>,
    up: Link,
    down: Link,
}

/// What every task shares.
struct Shared {
    seed: u64,
    relay: SocketAddr,
    up: Impairment,
    down: Impairment,
    partitioned: bool,
    flows: HashMap<SocketAddr, Flow>,
    stats: Stats,
}

/// A datagram waiting for its time.
struct Scheduled {
    direction: Direction,
    client: SocketAddr,
    bytes: Vec<u8>,
}

/// Control of a running proxy; cheap to clone.
#[derive(Clone)]
pub struct ProxyHandle {
    shared: Arc<Mutex<Shared>>,
    context: Arc<Context>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ProxyHandle").finish_non_exhaustive()
    }
}

/// What the reader tasks need besides the shared state.
struct Context {
    listen: Arc<UdpSocket>,
    start: Instant,
    schedule: mpsc::UnboundedSender<Timed<Scheduled>>,
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct Proxy {
    handle: ProxyHandle,
    local_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (an OS-chosen port) and forwards to `relay`, deciding each
    /// datagram's fate from `seed`.
    pub async fn start(relay: SocketAddr, seed: u64) -> io::Result<Self> {
        let listen = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let local_addr = listen.local_addr()?;
        let (schedule, scheduled) = mpsc::unbounded_channel();
        let context = Arc::new(Context {
            listen: Arc::clone(&listen),
            start: Instant::now(),
            schedule,
        });
        let shared = Arc::new(Mutex::new(Shared {
            seed,
            relay,
            up: Impairment::none(),
            down: Impairment::none(),
            partitioned: false,
            flows: HashMap::new(),
            stats: Stats::default(),
        }));
        let handle = ProxyHandle { shared, context };
        let tasks = vec![
            tokio::spawn(listen_loop(handle.clone())),
            tokio::spawn(send_loop(scheduled, {
                let handle = handle.clone();
                move |datagram| {
                    let handle = handle.clone();
                    async move { handle.send(datagram).await }
                }
            })),
        ];
        Ok(Self {
            handle,
            local_addr,
            tasks,
        })
    }

    /// Where clients send: give them this instead of the relay's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Control of the proxy, for use while it runs.
    pub fn handle(&self) -> ProxyHandle {
        self.handle.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
        let mut shared = self.handle.lock();
        shared.flows.values().for_each(|flow| flow.reader.abort());
        shared.flows.clear();
    }
}

impl ProxyHandle {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A task that panicked holding the lock left counters only: keep going.
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the impairment of one direction, from the next datagram on.
    pub fn set(&self, direction: Direction, impairment: Impairment) {
        let mut shared = self.lock();
        match direction {
            Direction::Up => shared.up = impairment,
            Direction::Down => shared.down = impairment,
        }
    }

    /// Sets both directions to `impairment`.
    pub fn set_both(&self, impairment: Impairment) {
        self.set(Direction::Up, impairment);
        self.set(Direction::Down, impairment);
    }

    /// Drops every datagram both ways while on (datagrams already delayed still arrive, as on a
    /// real path).
    pub fn set_partition(&self, on: bool) {
        self.lock().partitioned = on;
    }

    /// Gives every flow a new upstream socket (a new source port toward the relay), as a NAT
    /// rebinding or a network change does: the relay sees each client at a new address.
    /// Returns the new source addresses.
    pub async fn rebind_upstream(&self) -> io::Result<Vec<SocketAddr>> {
        let clients: Vec<SocketAddr> = self.lock().flows.keys().copied().collect();
        let relay = self.lock().relay;
        let mut fresh = Vec::new();
        for client in clients {
            let socket = Arc::new(upstream_socket(relay).await?);
            fresh.push((client, socket));
        }
        let mut addresses = Vec::new();
        let mut shared = self.lock();
        for (client, socket) in fresh {
            addresses.push(socket.local_addr()?);
            let reader = tokio::spawn(upstream_loop(self.clone(), client, Arc::clone(&socket)));
            if let Some(flow) = shared.flows.get_mut(&client) {
                flow.reader.abort();
                flow.upstream = socket;
                flow.reader = reader;
            } else {
                reader.abort();
            }
        }
        shared.stats.rebinds = shared.stats.rebinds.saturating_add(1);
        Ok(addresses)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let shared = self.lock();
        Stats {
            flows: shared.flows.len(),
            ..shared.stats
        }
    }

    /// Decides a datagram's fate and schedules its copies.
    fn forward(&self, direction: Direction, client: SocketAddr, bytes: &[u8]) {
        let now = Instant::now();
        let offset = now.saturating_duration_since(self.context.start);
        let mut shared = self.lock();
        let Shared {
            up,
            down,
            partitioned,
            flows,
            stats,
            ..
        } = &mut *shared;
        let Some(flow) = flows.get_mut(&client) else {
            return;
        };
        let (link, impairment, counts) = match direction {
            Direction::Up => (&mut flow.up, &*up, &mut stats.up),
            Direction::Down => (&mut flow.down, &*down, &mut stats.down),
        };
        counts.received += 1;
        let fate = link.decide(impairment, *partitioned, offset, bytes.len());
        if fate.departures.is_empty() {
            counts.dropped += 1;
        }
        for departs in fate.departures {
            let order = counts.received;
            let _ = self.context.schedule.send(Timed {
                at: self.context.start + departs,
                order,
                item: Scheduled {
                    direction,
                    client,
                    bytes: bytes.to_vec(),
                },
            });
        }
    }

    /// Adds a flow for a new client source address.
    async fn add_flow(&self, client: SocketAddr) -> io::Result<()> {
        let relay = self.lock().relay;
        let socket = Arc::new(upstream_socket(relay).await?);
        let mut shared = self.lock();
        if shared.flows.contains_key(&client) {
            return Ok(());
        }
        // Each flow's links get their own stream, numbered by arrival: a flow's decisions
        // depend only on the seed and its own datagrams.
        let index = shared.flows.len() as u64;
        let seed = shared.seed;
        let reader = tokio::spawn(upstream_loop(self.clone(), client, Arc::clone(&socket)));
        shared.flows.insert(
            client,
            Flow {
                upstream: socket,
                reader,
                up: Link::new(mix(seed, 2 * index)),
                down: Link::new(mix(seed, 2 * index + 1)),
            },
        );
        Ok(())
    }
}

/// A seed for stream `stream` of `seed` (splitmix64's finalizer: nearby inputs, unrelated
/// outputs).
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn upstream_socket(relay: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.connect(relay).await?;
    Ok(socket)
}

/// Datagrams from the clients.
async fn listen_loop(handle: ProxyHandle) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((len, client)) = handle.context.listen.recv_from(&mut buffer).await else {
            // ICMP errors from a client port that closed: not fatal to the others.
            continue;
        };
        let known = handle.lock().flows.contains_key(&client);
        if !known && handle.add_flow(client).await.is_err() {
            continue;
        }
        if let Some(bytes) = buffer.get(..len) {
            handle.forward(Direction::Up, client, bytes);
        }
    }
}

/// Datagrams from the relay to one client.
async fn upstream_loop(handle: ProxyHandle, client: SocketAddr, socket: Arc<UdpSocket>) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        // A connected UDP socket reports the relay's port closed (ICMP) as an error on the next
        // receive, as while the relay restarts: keep listening.
        let Ok(len) = socket.recv(&mut buffer).await else {
            continue;
        };
        if let Some(bytes) = buffer.get(..len) {
            handle.forward(Direction::Down, client, bytes);
        }
    }
}

impl ProxyHandle {
    async fn send(&self, datagram: Scheduled) {
        let sent = match datagram.direction {
            Direction::Up => {
                let socket = self
                    .lock()
                    .flows
                    .get(&datagram.client)
                    .map(|flow| Arc::clone(&flow.upstream));
                match socket {
                    Some(socket) => socket.send(&datagram.bytes).await.is_ok(),
                    None => false,
                }
            }
            Direction::Down => self
                .context
                .listen
                .send_to(&datagram.bytes, datagram.client)
                .await
                .is_ok(),
        };
        let mut shared = self.lock();
        let counts = match datagram.direction {
            Direction::Up => &mut shared.stats.up,
            Direction::Down => &mut shared.stats.down,
        };
        if sent {
            counts.sent += 1;
            counts.bytes_sent += datagram.bytes.len() as u64;
        } else {
            counts.dropped += 1;
        }
    }
}
