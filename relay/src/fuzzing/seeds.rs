//! The seed corpus of the relay's fuzz targets: genuine request sequences over the fixture, and
//! the SQLite journal's seed files.

use hush_proto::{
    AccessKey, AccountId, Addressed, ClientFrame, Deliveries, DeviceListBytes, Envelope, EphemeralEnvelope,
    MailboxId, Request, RequestId, Seq, SharedAddressed, SharedBody, SharedDeliveries, SharedPart, Signature,
    encode_frame,
};

use super::device_lists::lists;
use super::fixture::{ACCESS_KEY, MODE_DELIVERING, MODE_LOGGED_IN, MODE_PEER, MODE_TIGHT, fixture};

#[path = "../../../fuzz/seed.rs"]
mod seed;
pub use seed::Seed;

/// The seed corpus: genuine request sequences over the fixture (logins with the fixture
/// accounts' real signatures, genuine prekey uploads, sends between the two mailboxes, acks in and
/// out of range, deletion) in each mode family. Deterministic.
#[allow(clippy::expect_used)]
pub fn seed_corpus() -> Vec<Seed> {
    let fixture = fixture();
    let owner = &fixture.owner;
    let peer = &fixture.peer;
    let envelope = |len: usize, fill: u8| Envelope::new(vec![fill; len]).expect("under the envelope limit");
    let send = |to: MailboxId, len: usize| Request::Send {
        to,
        access: None,
        envelope: envelope(len, 0x5A),
    };
    let send_keyed = |to: MailboxId, access: AccessKey| Request::Send {
        to,
        access: Some(access),
        envelope: envelope(8, 0x5B),
    };
    let send_many = |to: &[MailboxId]| Request::SendMany {
        deliveries: Deliveries::new(
            to.iter()
                .map(|to| Addressed {
                    to: *to,
                    access: None,
                    envelope: envelope(16, 0xA5),
                })
                .collect(),
        )
        .expect("under the recipient limit"),
    };
    let shared = |body_len: usize, to: &[(MailboxId, Option<AccessKey>)]| Request::SendShared {
        body: SharedBody::new(vec![0xB5; body_len]).expect("under the body limit"),
        deliveries: SharedDeliveries::new(
            to.iter()
                .map(|(to, access)| SharedAddressed {
                    to: *to,
                    access: *access,
                    part: SharedPart::new(vec![0xB6; 24]).expect("under the part limit"),
                })
                .collect(),
        )
        .expect("under the recipient limit"),
    };
    let ephemeral = |to: MailboxId, access: Option<AccessKey>| Request::SendEphemeral {
        to,
        access,
        envelope: EphemeralEnvelope::new(vec![0xE7; 12]).expect("under the ephemeral limit"),
    };
    let wrong_key = AccessKey([0x0B; 32]);
    let ack = |through| Request::Ack {
        through: Seq(through),
    };
    let fetch = |mailbox| Request::FetchBundle {
        mailbox,
        access: None,
    };
    let fetch_keyed = |mailbox, access| Request::FetchBundle {
        mailbox,
        access: Some(access),
    };
    let unknown = MailboxId([0x42; 32]);
    let lists = lists();
    let publish = |list: &DeviceListBytes, membership: Signature| Request::PublishDeviceList {
        list: list.clone(),
        membership,
    };
    let fetch_list = |account| Request::FetchDeviceList { account };
    let unknown_account = AccountId([0x43; 32]);
    let logged_in_full = MODE_LOGGED_IN | (3 << 1) | (3 << 3) | MODE_DELIVERING | MODE_PEER;
    let sequences: Vec<(&str, u8, Vec<Request>)> = vec![
        ("ping", 0, vec![Request::Ping]),
        (
            "logged_out_refusals",
            MODE_PEER,
            vec![
                owner.upload.clone(),
                fetch(peer.mailbox),
                send(peer.mailbox, 8),
                send_many(&[peer.mailbox]),
                ack(1),
                Request::DeleteMailbox,
                Request::Ping,
            ],
        ),
        (
            "login_then_everything",
            MODE_DELIVERING,
            vec![
                owner.authenticate.clone(),
                owner.upload.clone(),
                fetch(owner.mailbox),
                send(owner.mailbox, 10),
                send_many(&[owner.mailbox, owner.mailbox]),
                ack(2),
                ack(9),
                owner.authenticate.clone(),
                Request::DeleteMailbox,
            ],
        ),
        (
            "peer_login_existing",
            MODE_PEER | MODE_DELIVERING,
            vec![
                peer.authenticate.clone(),
                ack(1),
                peer.upload.clone(),
                fetch(peer.mailbox),
            ],
        ),
        (
            "wrong_login",
            MODE_PEER,
            vec![
                // The owner's key with the peer's signature.
                match (&owner.authenticate, &peer.authenticate) {
                    (Request::Authenticate { identity_key, .. }, Request::Authenticate { signature, .. }) => {
                        Request::Authenticate {
                            identity_key: *identity_key,
                            signature: *signature,
                            registration: None,
                        }
                    }
                    _ => Request::Ping,
                },
                Request::Ping,
            ],
        ),
        (
            "logged_in_all_kinds",
            logged_in_full,
            vec![
                owner.upload.clone(),
                peer.upload.clone(),
                fetch(peer.mailbox),
                fetch(owner.mailbox),
                fetch(unknown),
                send(peer.mailbox, 100),
                send(unknown, 1),
                send_many(&[peer.mailbox, owner.mailbox, peer.mailbox]),
                send_many(&[peer.mailbox, unknown]),
                ack(0),
                ack(3),
                ack(70),
                ack(u64::MAX),
                Request::Ping,
                peer.authenticate.clone(),
                Request::DeleteMailbox,
                Request::Ping,
            ],
        ),
        (
            "not_delivered_acks",
            MODE_LOGGED_IN | (2 << 3),
            vec![ack(1), ack(3), send(owner.mailbox, 4), ack(4)],
        ),
        (
            "few_prekeys",
            MODE_LOGGED_IN | (2 << 1) | MODE_PEER,
            vec![
                fetch(owner.mailbox),
                fetch(owner.mailbox),
                fetch(owner.mailbox),
                fetch(owner.mailbox),
                owner.upload.clone(),
                fetch(owner.mailbox),
            ],
        ),
        (
            "tight_limits",
            MODE_TIGHT | logged_in_full,
            vec![
                owner.upload.clone(),
                owner.upload.clone(),
                send(peer.mailbox, 64),
                send(peer.mailbox, 65),
                send_many(&[peer.mailbox, peer.mailbox, peer.mailbox, peer.mailbox]),
                send(owner.mailbox, 1),
                fetch(peer.mailbox),
                fetch(peer.mailbox),
                fetch(peer.mailbox),
                ack(4),
                send(owner.mailbox, 1),
            ],
        ),
        (
            "access_keys_and_strangers",
            MODE_TIGHT | logged_in_full,
            vec![
                send(peer.mailbox, 30),
                send(peer.mailbox, 30),
                send(peer.mailbox, 30),
                send(peer.mailbox, 30),
                send_keyed(peer.mailbox, ACCESS_KEY),
                send_keyed(peer.mailbox, wrong_key),
                fetch(peer.mailbox),
                fetch(peer.mailbox),
                fetch_keyed(peer.mailbox, ACCESS_KEY),
                fetch_keyed(peer.mailbox, wrong_key),
                Request::SetAccessKey { key: Some(wrong_key) },
                send_keyed(owner.mailbox, wrong_key),
                Request::SetAccessKey { key: None },
                send_keyed(owner.mailbox, wrong_key),
                Request::Report {
                    mailbox: peer.mailbox,
                },
                Request::Report {
                    mailbox: owner.mailbox,
                },
            ],
        ),
        (
            "logged_out_access_requests",
            MODE_PEER,
            vec![
                Request::SetAccessKey {
                    key: Some(ACCESS_KEY),
                },
                Request::Report {
                    mailbox: peer.mailbox,
                },
                send_keyed(peer.mailbox, ACCESS_KEY),
            ],
        ),
        (
            "device_lists",
            MODE_LOGGED_IN | MODE_PEER,
            vec![
                fetch_list(lists.account),
                publish(&lists.first, owner.membership),
                publish(&lists.first, owner.membership),
                fetch_list(lists.account),
                publish(&lists.both, owner.membership),
                publish(&lists.first, owner.membership),
                // The peer's membership, sent by the owner; a list without the owner.
                publish(&lists.both, peer.membership),
                publish(&lists.without_owner, owner.membership),
                publish(&lists.both, Signature([0; 64])),
                fetch_list(lists.account),
                fetch_list(unknown_account),
            ],
        ),
        (
            "device_lists_from_the_peer",
            MODE_PEER,
            vec![
                publish(&lists.both, peer.membership),
                fetch_list(lists.account),
                peer.authenticate.clone(),
                publish(&lists.both, peer.membership),
                publish(&lists.without_owner, peer.membership),
                publish(&lists.both, peer.membership),
                fetch_list(lists.account),
            ],
        ),
        (
            "device_lists_tight",
            MODE_TIGHT | MODE_LOGGED_IN,
            vec![
                publish(&lists.first, owner.membership),
                fetch_list(lists.account),
                fetch_list(lists.account),
                fetch_list(lists.account),
                publish(&lists.both, owner.membership),
            ],
        ),
        (
            "shared_and_ephemeral",
            logged_in_full,
            vec![
                shared(40, &[(peer.mailbox, None), (owner.mailbox, Some(ACCESS_KEY))]),
                shared(40, &[(peer.mailbox, None), (peer.mailbox, None)]),
                shared(0, &[]),
                shared(8, &[(peer.mailbox, Some(wrong_key)), (owner.mailbox, None)]),
                shared(8, &[(unknown, None), (owner.mailbox, None)]),
                ephemeral(owner.mailbox, Some(ACCESS_KEY)),
                ephemeral(peer.mailbox, Some(ACCESS_KEY)),
                ephemeral(peer.mailbox, None),
                ephemeral(owner.mailbox, Some(wrong_key)),
                ephemeral(unknown, Some(ACCESS_KEY)),
                ack(3),
            ],
        ),
        (
            "shared_and_ephemeral_tight",
            MODE_TIGHT | logged_in_full,
            vec![
                shared(8, &[(peer.mailbox, None), (owner.mailbox, None)]),
                shared(
                    60,
                    &[
                        (peer.mailbox, Some(ACCESS_KEY)),
                        (owner.mailbox, Some(ACCESS_KEY)),
                    ],
                ),
                shared(100, &[(owner.mailbox, Some(ACCESS_KEY))]),
                shared(8, &[(peer.mailbox, None)]),
                shared(8, &[(peer.mailbox, None)]),
                ephemeral(owner.mailbox, Some(ACCESS_KEY)),
                ephemeral(owner.mailbox, Some(ACCESS_KEY)),
                ephemeral(owner.mailbox, Some(ACCESS_KEY)),
            ],
        ),
        (
            "logged_out_shared_and_ephemeral",
            MODE_PEER,
            vec![
                shared(8, &[(peer.mailbox, None), (peer.mailbox, None)]),
                ephemeral(peer.mailbox, Some(ACCESS_KEY)),
            ],
        ),
        (
            "tight_logged_out_login",
            MODE_TIGHT | MODE_DELIVERING,
            vec![
                owner.authenticate.clone(),
                owner.upload.clone(),
                send(owner.mailbox, 200),
            ],
        ),
    ];
    let journals = crate::store::sqlite::journal_seed_files()
        .into_iter()
        .map(|(name, bytes)| Seed {
            target: "relay_journal_replay",
            name,
            bytes,
        });
    sequences
        .into_iter()
        .map(|(name, mode, requests)| {
            let mut bytes = vec![mode];
            for (request, id) in requests.into_iter().zip(1..) {
                let frame = ClientFrame {
                    id: RequestId(id),
                    request,
                };
                bytes.extend(encode_frame(&frame, hush_proto::MAX_FRAME_LEN).expect("seed frames are small"));
            }
            Seed {
                target: "relay_request_handler",
                name: name.to_owned(),
                bytes,
            }
        })
        .chain(journals)
        .collect()
}
