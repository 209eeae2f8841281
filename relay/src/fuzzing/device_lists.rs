//! The fuzzed relay's device lists: genuine lists of the fixture account (its key is seeded),
//! and what a successful publish or fetch must have done.

use std::sync::OnceLock;

use hush_crypto::IdentityKey;
use hush_crypto::devices::{DeviceEntry, DeviceList};
use hush_proto::{AccountId, DeviceListBytes, MailboxId, Request, Response};

use super::fixture::{NOW, Snapshot, account_key, fixture};
use crate::store::StoredDeviceList;

/// Genuine lists of the fixture account, for the seeds.
#[derive(Debug)]
pub(super) struct Lists {
    pub(super) account: AccountId,
    /// Counter 1: the owner alone.
    pub(super) first: DeviceListBytes,
    /// Counter 2: the owner and the peer.
    pub(super) both: DeviceListBytes,
    /// Counter 3: the peer alone (the owner removed).
    pub(super) without_owner: DeviceListBytes,
}

#[allow(clippy::expect_used)]
pub(super) fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| {
        let fixture = fixture();
        let key = account_key();
        let entry = |identity: &[u8; 32]| {
            DeviceEntry::new(
                IdentityKey::from_bytes(identity).expect("a fixture identity key is valid"),
                NOW,
            )
        };
        let (owner, peer) = (
            entry(&fixture.owner.identity_key),
            entry(&fixture.peer.identity_key),
        );
        let bytes = |list: DeviceList| DeviceListBytes::new(list.to_bytes()).expect("a list fits its limit");
        let first = key.first_device_list(owner);
        let both = key
            .add_device(&first, peer)
            .expect("two devices is within the limit");
        let without_owner = key
            .remove_device(&both, &owner.identity_key)
            .expect("the owner is listed");
        Lists {
            account: fixture.account,
            first: bytes(first),
            both: bytes(both),
            without_owner: bytes(without_owner),
        }
    })
}

/// A publish or fetch that succeeded: checks what it did to the store and what it answered.
pub(super) fn check_success(
    request: &Request,
    response: &Response,
    logged_in: Option<MailboxId>,
    before: &Snapshot,
    after: &Snapshot,
) {
    assert_eq!(
        (&after.owner, &after.peer, after.depth),
        (&before.owner, &before.peer, before.depth),
        "{request:?} changed a mailbox"
    );
    match (request, response) {
        (Request::PublishDeviceList { list, membership }, Response::DeviceListStored) => {
            let decoded = DeviceList::from_bytes(list.as_bytes());
            assert!(decoded.is_ok(), "a list that does not verify was stored");
            let Ok(decoded) = decoded else { return };
            assert_eq!(
                decoded.account_key().as_bytes(),
                &lists().account.0,
                "a list of an account without a key was stored"
            );
            let fixture = fixture();
            let publisher = [&fixture.owner, &fixture.peer]
                .into_iter()
                .find(|party| Some(party.mailbox) == logged_in);
            assert!(publisher.is_some(), "stored without a login");
            let Some(publisher) = publisher else { return };
            let publisher_key = IdentityKey::from_bytes(&publisher.identity_key);
            assert!(
                publisher_key.is_ok_and(|key| decoded.device(&key).is_some()
                    && decoded
                        .account_key()
                        .verify_membership(&key, &membership.0)
                        .is_ok()),
                "stored for a publisher the list does not name, or without its membership"
            );
            let stored = after.device_list.as_ref();
            assert_eq!(
                stored.map(|stored| &stored.list),
                Some(list),
                "the list was not stored"
            );
            assert!(
                stored.is_some_and(|stored| {
                    stored.memberships.iter().any(|held| {
                        held.identity_key == publisher.identity_key && held.signature == *membership
                    })
                }),
                "the publisher's membership was not kept"
            );
            if let Some(previous) = &before.device_list {
                let previous = DeviceList::from_bytes(previous.list.as_bytes());
                assert!(
                    previous.is_ok_and(|previous| previous.counter() < decoded.counter()
                        || before.device_list.as_ref().map(|held| &held.list) == Some(list)),
                    "a stored list was replaced by one without a greater counter"
                );
            }
            for held in stored.map_or(&[][..], |stored| &stored.memberships[..]) {
                let named = IdentityKey::from_bytes(&held.identity_key)
                    .is_ok_and(|device| decoded.device(&device).is_some());
                assert!(named, "a membership of a device the list does not name was kept");
            }
        }
        (Request::FetchDeviceList { account }, Response::DeviceList { list, memberships }) => {
            assert_eq!(after, before, "a fetch changed the store");
            assert_eq!(
                *account,
                lists().account,
                "a list served for an account that has none"
            );
            let served = StoredDeviceList {
                list: list.clone(),
                memberships: memberships.as_slice().to_vec(),
            };
            assert_eq!(
                before.device_list,
                Some(served),
                "other than what is stored served"
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hush_proto::{ErrorCode, Signature};
    use tokio::sync::mpsc;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::fuzzing::fixture::{CHALLENGE, EXPORTER, MODE_LOGGED_IN, MODE_PEER, limits, setup};
    use crate::session::Session;
    use crate::shared::Shared;
    use crate::store::memory::MemoryStore;

    /// The seeds' device-list requests reach the handler's every outcome, so the fuzzer starts
    /// from stored lists and not only from refusals.
    #[tokio::test]
    async fn the_fixture_lists_are_genuine_and_reach_every_answer() {
        let mode = MODE_LOGGED_IN | MODE_PEER;
        let shared = Shared::new(
            MemoryStore::new(),
            limits(mode),
            Clock::Manual(ManualClock::new(NOW)),
            None,
        );
        let (outbox, _outbox_rx) = mpsc::channel(8);
        let mut session = Session::new(shared.connection_id(), CHALLENGE, EXPORTER, outbox);
        setup(&shared, &mut session, mode).await;
        let (fixture, lists) = (fixture(), lists());
        let (owner, peer) = (&fixture.owner, &fixture.peer);
        let publish = |list: &DeviceListBytes, membership: Signature| Request::PublishDeviceList {
            list: list.clone(),
            membership,
        };
        let fetch = Request::FetchDeviceList {
            account: lists.account,
        };
        let cases = [
            (fetch.clone(), Err(ErrorCode::NotFound)),
            (publish(&lists.first, owner.membership), Ok(())),
            (publish(&lists.both, owner.membership), Ok(())),
            (fetch.clone(), Ok(())),
            (
                publish(&lists.first, owner.membership),
                Err(ErrorCode::StaleDeviceList),
            ),
            (publish(&lists.both, peer.membership), Err(ErrorCode::Invalid)),
            (
                publish(&lists.without_owner, owner.membership),
                Err(ErrorCode::Invalid),
            ),
        ];
        for (request, expected) in cases {
            let (reply, answer) = tokio::sync::oneshot::channel();
            crate::cmd::run(&shared, &mut session, request.clone(), move |outcome| {
                drop(reply.send(outcome));
            })
            .await;
            let answer = answer.await.unwrap().map(drop).map_err(|refused| refused.code);
            assert_eq!(answer, expected, "{request:?}");
        }
    }
}
