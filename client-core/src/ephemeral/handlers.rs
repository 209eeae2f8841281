//! The core's typing and presence handlers: what goes out and what comes in.

use hush_proto::{EphemeralEnvelope, Request};

use super::PresenceSetting;
use super::wire::{self, Presence};
use crate::access::Standing;
use crate::address::Address;
use crate::core::Core;
use crate::event::Event;
use crate::link::Pending;

impl Core {
    /// Tells `peer`'s devices that we started (`true`) or stopped typing to it. Sent only while
    /// online, only to an accepted contact whose access key we hold; otherwise nothing happens
    /// (typing is not worth queueing).
    pub fn handle_typing(&mut self, now: u64, peer: Address, typing: bool) {
        self.send_ephemeral(now, peer, wire::EphemeralKind::Typing(typing));
    }

    /// Changes the presence setting. Turning it on says "online" to every accepted contact;
    /// turning it off says "last seen now", so no contact keeps showing us online.
    pub fn handle_presence_setting(&mut self, now: u64, setting: PresenceSetting) {
        if self.ephemerals.presence == setting {
            return;
        }
        match setting {
            PresenceSetting::On => {
                self.ephemerals.presence = setting;
                self.announce_presence(now);
            }
            _ => {
                self.handle_leaving(now);
                self.ephemerals.presence = setting;
            }
        }
    }

    /// The app is about to go offline: with presence on, every accepted contact hears "last seen
    /// now".
    pub fn handle_leaving(&mut self, now: u64) {
        if self.ephemerals.presence != PresenceSetting::On {
            return;
        }
        self.send_to_all_contacts(
            now,
            wire::EphemeralKind::Presence {
                presence: Presence::LastSeen(now),
                reply: false,
            },
        );
    }

    /// Ephemeral sends the relay has not answered yet on this connection: a driver about to
    /// close it waits (briefly) for them, since closing discards what is still unsent.
    pub fn ephemerals_in_flight(&self) -> usize {
        self.link.ephemerals_in_flight()
    }

    /// The presence setting.
    pub fn presence_setting(&self) -> PresenceSetting {
        self.ephemerals.presence
    }

    /// Logged in: with presence on, every accepted contact hears "online" and is asked for its
    /// own presence back.
    pub(crate) fn announce_presence(&mut self, now: u64) {
        if self.ephemerals.presence != PresenceSetting::On {
            return;
        }
        self.send_to_all_contacts(
            now,
            wire::EphemeralKind::Presence {
                presence: Presence::Online,
                reply: true,
            },
        );
    }

    fn send_to_all_contacts(&mut self, now: u64, kind: wire::EphemeralKind) {
        for peer in self.access.peers_with(Standing::Accepted) {
            if !self.is_own_device(&peer) && peer != self.account_address() {
                self.send_ephemeral(now, peer, kind);
            }
        }
    }

    fn send_ephemeral(&mut self, now: u64, peer: Address, kind: wire::EphemeralKind) {
        if !self.link.is_online() || self.access.standing(&peer) != Some(Standing::Accepted) {
            return;
        }
        let Some(access) = self.access.key_for(&peer) else {
            return;
        };
        let mut id = [0u8; 16];
        self.rng.fill_bytes(&mut id);
        let plaintext = wire::Ephemeral {
            sent_at: now,
            id,
            kind,
        }
        .encode();
        let devices: Vec<Address> = match self.peer_lists.get(&peer) {
            Some(pinned) => pinned.devices().iter().map(Address::from_identity).collect(),
            None => vec![peer],
        };
        for device in devices {
            let sealed = hush_crypto::sealed::seal_with(
                &self.account,
                &mut self.seal_keys,
                &device.identity(),
                &plaintext,
                &mut self.rng,
            );
            // A device key that cannot take part in a DH, or (never: 27 or 36 bytes plus the
            // seal) an envelope over the limit: that device goes without.
            let Some(envelope) = sealed.ok().and_then(EphemeralEnvelope::new) else {
                continue;
            };
            let request = Request::SendEphemeral {
                to: device.mailbox(),
                access: Some(access),
                envelope,
            };
            self.request(request, Pending::Ephemeral);
        }
    }

    /// A pushed ephemeral: opened, checked (an accepted contact's device, fresh, not seen
    /// before) and reported as an event; anything else is ignored without a trace.
    pub(crate) fn receive_ephemeral(&mut self, now: u64, envelope: &[u8]) {
        let Ok(unsealed) = self.account.open_sealed(envelope) else {
            return;
        };
        let device = Address::from_identity(&unsealed.sender);
        let peer = self.owner_of(&device);
        if self.access.standing(&peer) != Some(Standing::Accepted) {
            return;
        }
        let Ok(ephemeral) = wire::Ephemeral::decode(&unsealed.inner) else {
            return;
        };
        if !self.ephemerals.seen.admit(now, device, &ephemeral) {
            return;
        }
        match ephemeral.kind {
            wire::EphemeralKind::Typing(typing) => self.event(Event::Typing { peer, typing }),
            wire::EphemeralKind::Presence { presence, reply } => {
                self.event(Event::PresenceChanged { peer, presence });
                if reply && self.ephemerals.presence == PresenceSetting::On {
                    let online = Presence::Online;
                    let kind = wire::EphemeralKind::Presence {
                        presence: online,
                        reply: false,
                    };
                    self.send_ephemeral(now, peer, kind);
                }
            }
        }
    }
}
