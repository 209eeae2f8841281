//! # hush-lossy
//!
//! A seeded, userspace UDP impairment proxy for testing Hush over a bad network, on loopback:
//! clients send to [`Proxy::local_addr`] instead of the relay; the proxy forwards each client's
//! datagrams to the relay from a socket of its own (so the relay sees distinct clients) and the
//! answers back, with per-direction loss, delay, jitter, reordering, duplication and a
//! token-bucket rate limit ([`Impairment`]), partitions, and upstream address changes, all
//! changeable while it runs through a [`ProxyHandle`]. Each datagram's fate comes from the seed
//! and the flow's own datagram sequence ([`Link`]), so a seed replays the same decisions.
//!
//! ```
//! # async fn demo(relay: std::net::SocketAddr) -> std::io::Result<()> {
//! use std::time::Duration;
//! use hush_lossy::{Impairment, Proxy};
//!
//! let proxy = Proxy::start(relay, 7).await?;
//! proxy.handle().set_both(Impairment {
//!     loss: 0.10,
//!     delay: Duration::from_millis(200),
//!     jitter: Duration::from_millis(50),
//!     reorder: 0.01,
//!     ..Impairment::none()
//! });
//! // Point the clients at proxy.local_addr().
//! # Ok(()) }
//! ```
//!
//! The network-fault scenarios that use it are in `tests/scenarios/`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bucket;
mod link;
mod proxy;

pub use bucket::Rate;
pub use link::{Fate, Impairment, Link};
pub use proxy::{Counts, Direction, Proxy, ProxyHandle, Stats};
