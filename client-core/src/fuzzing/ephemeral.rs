//! The `decode_ephemeral` target: an ephemeral plaintext (SPEC.md §18) that decodes re-encodes
//! to exactly its bytes (one encoding per value), and its seeds.

use crate::ephemeral::{Ephemeral, EphemeralKind, Presence};

/// Decodes `data` as an ephemeral; whatever decodes encodes back to exactly `data`.
pub fn decode_ephemeral(data: &[u8]) {
    if let Ok(ephemeral) = Ephemeral::decode(data) {
        assert_eq!(ephemeral.encode(), data, "an ephemeral has one encoding");
        assert_eq!(Ephemeral::decode(&ephemeral.encode()), Ok(ephemeral));
    }
}

/// One of each kind, named.
pub(super) fn seeds() -> Vec<(String, Vec<u8>)> {
    let at = |kind| Ephemeral {
        sent_at: super::NOW,
        id: [0x5A; 16],
        kind,
    };
    let presence = |presence, reply| EphemeralKind::Presence { presence, reply };
    [
        ("typing_started", at(EphemeralKind::Typing(true))),
        ("typing_stopped", at(EphemeralKind::Typing(false))),
        ("presence_online", at(presence(Presence::Online, true))),
        (
            "presence_last_seen",
            at(presence(Presence::LastSeen(super::NOW - 1), false)),
        ),
    ]
    .into_iter()
    .map(|(name, ephemeral)| (name.to_owned(), ephemeral.encode()))
    .collect()
}
