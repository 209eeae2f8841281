//! Accounts with several devices (test-vectors/SPEC.md §16), as this device sees them.
//!
//! - [`own`]: this device's own account: the account key (when this device is a holder), the
//!   pinned device list, this device's membership signature, and publishing them at the relay.
//! - `linking`: joining an account (the new device) and linking a device (an existing one).

pub(crate) mod attribution;
pub(crate) mod bundle_check;
pub(crate) mod fanout;
pub(crate) mod linking;
pub(crate) mod own;
pub(crate) mod peer_fetch;
pub(crate) mod peers;
pub(crate) mod publish;
pub(crate) mod sync;

pub use linking::LinkDeviceError;
pub use own::{OwnAccount, OwnAccountRecord, OwnListError};
pub use peers::{ListOutcome, PeerDevices, PeerDevicesRecord, PeerLists};
