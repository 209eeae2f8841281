//! After linking a device, the holder fetches the new device's bundle and checks that it carries
//! the identity key the link code gave (SPEC.md §16.4): a relay that serves another key for the
//! new device (to be the one its sessions are set up with) is caught here, before anything is
//! encrypted to that key, and reported as [`Event::LinkedDeviceKeyMismatch`]. The check waits
//! in memory: a bundle not there yet (or a failed fetch) is asked for again at the next login,
//! and a restart forgets it (every later session setup checks the same key anyway).

use hush_crypto::{BundleError, IdentityKey};
use hush_proto::{ErrorResponse, Request, Response};

use crate::address::Address;
use crate::core::Core;
use crate::event::Event;
use crate::link::Pending;
use crate::prekey_wire::bundle_from_wire;

impl Core {
    /// Checks `device`'s bundle once it is served (now, if online).
    pub(crate) fn check_bundle_of(&mut self, device: IdentityKey) {
        if !self.bundle_checks.waiting.contains(&device) {
            self.bundle_checks.waiting.push(device);
        }
        self.check_linked_bundles();
    }

    /// Asks for the bundle of each linked device still to be checked.
    pub(crate) fn check_linked_bundles(&mut self) {
        if !self.link.is_online() {
            return;
        }
        let checks = &mut self.bundle_checks;
        let due: Vec<IdentityKey> = checks
            .waiting
            .iter()
            .filter(|device| !checks.in_flight.contains(device))
            .copied()
            .collect();
        for device in due {
            self.bundle_checks.in_flight.push(device);
            let mailbox = Address::from_identity(&device).mailbox();
            let request = Request::FetchBundle {
                mailbox,
                access: None,
            };
            self.request(request, Pending::LinkedBundle(device));
        }
    }

    pub(crate) fn on_linked_bundle(&mut self, device: IdentityKey, result: Result<Response, ErrorResponse>) {
        self.bundle_checks.in_flight.retain(|key| *key != device);
        let Ok(Response::Bundle(bundle)) = result else {
            // Not served yet, or refused: asked again at the next login.
            return;
        };
        let served = bundle.identity_key;
        let checked = bundle_from_wire(&bundle).map(|bundle| bundle.verify(Some(&device)));
        match checked {
            Some(Err(BundleError::IdentityMismatch)) => {
                self.bundle_checks.waiting.retain(|key| *key != device);
                self.event(Event::LinkedDeviceKeyMismatch { device, served });
            }
            Some(Ok(_)) => self.bundle_checks.waiting.retain(|key| *key != device),
            // Malformed or stale (a bad signed prekey): the relay misbehaves; try again later.
            Some(Err(_)) | None => {}
        }
    }
}
