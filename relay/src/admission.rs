//! Who gets in before login. A connection not yet logged in (its QUIC handshake in progress, or
//! established and not yet authenticated) holds a slot of its own pool, apart from the logged-in
//! connections' pool, for at most the login deadline; each source address holds a bounded share
//! of both; past a threshold of unauthenticated connections new ones must first prove their
//! address with a QUIC Retry, and past the pool's size they are refused. So a flood of
//! connections that never log in cannot take logged-in users' slots, and one address cannot
//! take every unauthenticated one.
//!
//! Per-address counts use an address the peer proved it receives at: a handshake that came back
//! through a Retry, or one that completed. A handshake in progress from an unproven address may
//! be spoofed, so it is not charged to that address (a spoofer could otherwise lock a victim's
//! address out); it only takes a slot of the unauthenticated pool, which Retry protects.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;

/// Largest frame body read before login. Before login only `Authenticate` and `Ping` do
/// anything, and the largest of them is an `Authenticate` carrying a registration token, every
/// varint at its longest (postcard): request id (u32, 5 bytes), variant tag (1), identity key
/// (32), signature (length byte + 64), option tag (1), token expiry (u64, 10), token signature
/// (1 + 64). A body announced longer is refused from its length prefix, before any of it is
/// read or allocated; allowing the post-login maximum (over 1 MiB) here would let every
/// connection that never logs in make the relay buffer that much.
pub const PRE_LOGIN_MAX_FRAME_LEN: u32 =
    VARINT_U32_MAX + 1 + 32 + SIGNATURE_LEN + 1 + VARINT_U64_MAX + SIGNATURE_LEN;

/// Postcard's longest `u32` varint.
const VARINT_U32_MAX: u32 = 5;
/// Postcard's longest `u64` varint.
const VARINT_U64_MAX: u32 = 10;
/// An Ed25519 signature on the wire: a byte string, its length (64) in one varint byte.
const SIGNATURE_LEN: u32 = 1 + 64;

/// QUIC connection-level receive window (bytes the peer may send that the relay has not read)
/// until login: room for a `Ping` and a largest `Authenticate` in flight, so the QUIC stack
/// buffers no more than that for a connection that has not logged in. Raised to the logged-in
/// window (two largest frames) at login.
pub const PRE_LOGIN_RECEIVE_WINDOW: u32 = 1024;

/// Why a new connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every logged-in slot is taken: it could not log in.
    Full,
    /// Every unauthenticated slot is taken.
    Unauthenticated,
    /// Its source address holds its share already.
    PerAddress,
}

/// What to do with a new QUIC connection attempt.
#[derive(Debug)]
pub(crate) enum Admit {
    /// Accept, holding this slot.
    Accept(Slot),
    /// Answer with a QUIC Retry: the client must prove its address first.
    Retry,
    /// Refuse.
    Refuse(Refusal),
}

/// The connection pools and per-address counts.
#[derive(Debug)]
pub(crate) struct Admission {
    logged_in: Arc<Semaphore>,
    unauthenticated: Arc<Semaphore>,
    max_unauthenticated: usize,
    retry_above: usize,
    addresses: Arc<Addresses>,
}

impl Admission {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            logged_in: Arc::new(Semaphore::new(limits.max_connections)),
            unauthenticated: Arc::new(Semaphore::new(limits.max_unauthenticated_connections)),
            max_unauthenticated: limits.max_unauthenticated_connections,
            retry_above: limits.retry_unauthenticated_above,
            addresses: Arc::new(Addresses {
                max_connections: limits.max_connections_per_address,
                max_unauthenticated: limits.max_unauthenticated_per_address,
                counts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Decides on a connection attempt from `remote`; `validated` when the peer proved its
    /// address (it came back with a Retry token), `may_retry` when a Retry is allowed.
    pub(crate) fn admit(&self, remote: SocketAddr, validated: bool, may_retry: bool) -> Admit {
        if self.logged_in.available_permits() == 0 {
            return Admit::Refuse(Refusal::Full);
        }
        let in_use = self
            .max_unauthenticated
            .saturating_sub(self.unauthenticated.available_permits());
        if in_use >= self.max_unauthenticated {
            return Admit::Refuse(Refusal::Unauthenticated);
        }
        if !validated && may_retry && in_use >= self.retry_above {
            return Admit::Retry;
        }
        let address = if validated {
            match self.addresses.claim(remote.ip()) {
                Some(address) => Some(address),
                None => return Admit::Refuse(Refusal::PerAddress),
            }
        } else {
            None
        };
        match self.unauthenticated.clone().try_acquire_owned() {
            Ok(permit) => Admit::Accept(Slot {
                unauthenticated: Some(permit),
                logged_in: None,
                address,
            }),
            Err(_) => Admit::Refuse(Refusal::Unauthenticated),
        }
    }

    /// Charges a connection whose handshake completed (so `remote` is its real address) to that
    /// address, if it was not charged at admission; `false` if the address holds its share.
    pub(crate) fn claim_address(&self, slot: &mut Slot, remote: SocketAddr) -> bool {
        if slot.address.is_some() {
            return true;
        }
        slot.address = self.addresses.claim(remote.ip());
        slot.address.is_some()
    }

    /// A logged-in slot for a login about to be tried; `None` when every one is taken.
    pub(crate) fn seat(&self) -> Option<OwnedSemaphorePermit> {
        self.logged_in.clone().try_acquire_owned().ok()
    }

    /// Connections not yet logged in (handshakes included).
    pub(crate) fn unauthenticated(&self) -> usize {
        self.max_unauthenticated
            .saturating_sub(self.unauthenticated.available_permits())
    }
}

/// What one connection holds: an unauthenticated slot until login, a logged-in slot after, and
/// its share of its address. Dropping it gives everything back.
#[derive(Debug)]
pub(crate) struct Slot {
    unauthenticated: Option<OwnedSemaphorePermit>,
    logged_in: Option<OwnedSemaphorePermit>,
    address: Option<AddressSlot>,
}

impl Slot {
    /// The connection logged in, holding `seat`: it leaves the unauthenticated pool.
    pub(crate) fn logged_in(&mut self, seat: OwnedSemaphorePermit) {
        self.logged_in = Some(seat);
        self.unauthenticated = None;
        if let Some(address) = &mut self.address {
            address.logged_in();
        }
    }
}

/// Per-address counts: an IPv4 address, or the /64 prefix of an IPv6 one (one subscriber's
/// usual allocation, so an attacker cannot multiply its share by its addresses).
#[derive(Debug)]
struct Addresses {
    max_connections: usize,
    max_unauthenticated: usize,
    counts: Mutex<HashMap<IpAddr, Count>>,
}

#[derive(Debug, Default)]
struct Count {
    connections: usize,
    unauthenticated: usize,
}

impl Addresses {
    /// The counts; a panic while they were held leaves them consistent (each update is one
    /// field), so a poisoned lock is taken as it is.
    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, Count>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn claim(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut counts = self.counts();
        let count = counts.entry(key).or_default();
        if count.connections >= self.max_connections || count.unauthenticated >= self.max_unauthenticated {
            if count.connections == 0 {
                counts.remove(&key);
            }
            return None;
        }
        count.connections += 1;
        count.unauthenticated += 1;
        Some(AddressSlot {
            addresses: self.clone(),
            key,
            unauthenticated: true,
        })
    }
}

/// The address a connection is counted under.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// One connection's share of its address.
#[derive(Debug)]
struct AddressSlot {
    addresses: Arc<Addresses>,
    key: IpAddr,
    unauthenticated: bool,
}

impl AddressSlot {
    fn logged_in(&mut self) {
        if std::mem::replace(&mut self.unauthenticated, false) {
            let mut counts = self.addresses.counts();
            if let Some(count) = counts.get_mut(&self.key) {
                count.unauthenticated = count.unauthenticated.saturating_sub(1);
            }
        }
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.addresses.counts();
        if let Some(count) = counts.get_mut(&self.key) {
            count.connections = count.connections.saturating_sub(1);
            if self.unauthenticated {
                count.unauthenticated = count.unauthenticated.saturating_sub(1);
            }
            if count.connections == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hush_proto::{ClientFrame, RegistrationToken, Request, RequestId, Signature, encode_frame};

    use super::*;

    fn limits() -> Limits {
        Limits {
            max_connections: 3,
            max_unauthenticated_connections: 4,
            retry_unauthenticated_above: 2,
            max_connections_per_address: 3,
            max_unauthenticated_per_address: 2,
            ..Limits::default()
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn accepted(admit: Admit) -> Slot {
        match admit {
            Admit::Accept(slot) => slot,
            other => panic!("expected to be accepted, got {other:?}"),
        }
    }

    #[test]
    fn the_largest_authenticate_fits_the_pre_login_cap_exactly() {
        let largest = ClientFrame {
            id: RequestId(u32::MAX),
            request: Request::Authenticate {
                identity_key: [0xff; 32],
                signature: Signature([0xff; 64]),
                registration: Some(RegistrationToken {
                    expires_at: u64::MAX,
                    signature: Signature([0xff; 64]),
                }),
            },
        };
        let frame = encode_frame(&largest, hush_proto::MAX_FRAME_LEN).unwrap();
        let body = frame.len() - hush_proto::frame::LENGTH_PREFIX_LEN;
        assert_eq!(body, PRE_LOGIN_MAX_FRAME_LEN as usize);
        let ping = encode_frame(
            &ClientFrame {
                id: RequestId(u32::MAX),
                request: Request::Ping,
            },
            PRE_LOGIN_MAX_FRAME_LEN,
        );
        assert!(ping.is_ok());
        assert!(2 * frame.len() <= PRE_LOGIN_RECEIVE_WINDOW as usize);
    }

    #[test]
    fn unvalidated_attempts_get_a_retry_above_the_threshold_and_a_refusal_at_the_cap() {
        let admission = Admission::new(&limits());
        let remote = addr("192.0.2.1:5000");
        let first = accepted(admission.admit(remote, false, true));
        let second = accepted(admission.admit(remote, false, true));
        assert!(matches!(admission.admit(remote, false, true), Admit::Retry));
        // A proven address is not asked again; a Retry is not sent twice.
        let third = accepted(admission.admit(addr("192.0.2.2:1"), true, false));
        let fourth = accepted(admission.admit(addr("192.0.2.3:1"), false, false));
        assert_eq!(admission.unauthenticated(), 4);
        assert!(matches!(
            admission.admit(addr("192.0.2.4:1"), true, false),
            Admit::Refuse(Refusal::Unauthenticated)
        ));
        drop((first, second, third, fourth));
        assert_eq!(admission.unauthenticated(), 0);
    }

    #[test]
    fn a_login_moves_the_connection_to_the_logged_in_pool() {
        let admission = Admission::new(&limits());
        let mut slots = Vec::new();
        for port in 0..3 {
            let mut slot = accepted(admission.admit(addr(&format!("192.0.2.{port}:1")), true, false));
            slot.logged_in(admission.seat().unwrap());
            slots.push(slot);
        }
        assert_eq!(admission.unauthenticated(), 0);
        assert!(admission.seat().is_none());
        // No logged-in slot is left, so a new connection could not log in.
        assert!(matches!(
            admission.admit(addr("198.51.100.1:1"), true, false),
            Admit::Refuse(Refusal::Full)
        ));
        slots.pop();
        accepted(admission.admit(addr("198.51.100.1:1"), true, false));
    }

    #[test]
    fn one_address_holds_a_bounded_share_and_ipv6_counts_by_64_prefix() {
        let admission = Admission::new(&Limits {
            max_unauthenticated_connections: 100,
            retry_unauthenticated_above: 100,
            ..limits()
        });
        let mut a = accepted(admission.admit(addr("[2001:db8::1]:1"), true, false));
        let _b = accepted(admission.admit(addr("[2001:db8::ffff:2]:1"), true, false));
        // Two unauthenticated from this /64: a third is refused, another /64 is not.
        assert!(matches!(
            admission.admit(addr("[2001:db8::3]:1"), true, false),
            Admit::Refuse(Refusal::PerAddress)
        ));
        let _other = accepted(admission.admit(addr("[2001:db8:0:1::1]:1"), true, false));
        // Once one logs in, another may try; the third connection fills the address's share.
        a.logged_in(admission.seat().unwrap());
        let mut c = accepted(admission.admit(addr("[2001:db8::3]:1"), false, false));
        assert!(admission.claim_address(&mut c, addr("[2001:db8::3]:1")));
        let mut d = accepted(admission.admit(addr("[2001:db8::4]:1"), false, false));
        assert!(!admission.claim_address(&mut d, addr("[2001:db8::4]:1")));
        // IPv4-mapped addresses count as their IPv4 address.
        let _v4 = accepted(admission.admit(addr("203.0.113.9:1"), true, false));
        let _mapped = accepted(admission.admit(addr("[::ffff:203.0.113.9]:2"), true, false));
        assert!(matches!(
            admission.admit(addr("203.0.113.9:3"), true, false),
            Admit::Refuse(Refusal::PerAddress)
        ));
        drop(c);
        drop(d);
        let counts = admission.addresses.counts.lock().unwrap();
        assert_eq!(
            counts
                .get(&address_key("2001:db8::".parse().unwrap()))
                .unwrap()
                .connections,
            2
        );
    }
}
