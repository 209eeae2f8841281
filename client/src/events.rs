//! What the app hears from a running client.

use std::time::Duration;

use hush_client_core::{Address, Event};

/// The relay connection's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connecting and logging in.
    Connecting,
    /// Logged in; the outbox is flowing and the mailbox draining.
    Online,
    /// Not connected; the next attempt is in `retry_in`.
    Offline {
        /// Why.
        reason: String,
        /// When the next attempt starts.
        retry_in: Duration,
    },
}

/// An event for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// From the protocol core: a message received (once, in order, already in the history),
    /// a status change of one of ours, a dropped envelope, prekeys replenished.
    Core(Event),
    /// The relay connection changed state.
    Connection(ConnectionState),
    /// A contact's address changed (see [`crate::IdentityPolicy`]).
    ContactIdentityChanged {
        /// The contact.
        name: String,
        /// Address before.
        old: Address,
        /// Address now offered.
        new: Address,
        /// Whether the policy accepted it.
        accepted: bool,
    },
    /// Disappearing messages expired: their texts are gone from the database and they are no
    /// longer listed (`Client::set_disappearing_timer`).
    Expired(Vec<crate::store::Expired>),
    /// The client stopped working (the local database could not be written); nothing after the
    /// last durable state was acknowledged or sent.
    Stopped(String),
}
