//! `SendShared`: one body for many mailboxes. Each recipient's envelope is built here from its
//! part and the body (hush-proto's `shared_envelope`) and the whole send then runs as a
//! `SendMany` would: access keys and stranger budgets per recipient, quotas, one atomic commit
//! answered `Stored` once durable. The body crosses the network once; each mailbox stores its
//! own copy, so acks, expiry and mailbox deletion need no reference counts in any backend.

use hush_proto::{
    Addressed, ErrorCode, ErrorResponse, SHARED_ENVELOPE_OVERHEAD, SharedBody, SharedDeliveries,
    shared_envelope,
};

use super::error;
use crate::config::Limits;

/// The recipients' envelopes of a shared send, or why it is refused: recipients named twice (a
/// shared send gives each mailbox one message), or more bytes to store than the relay's fan-out
/// limit (a small upload must not make the relay write without bound). The size is checked before
/// anything is built.
pub(super) fn expand(
    limits: &Limits,
    body: SharedBody,
    deliveries: SharedDeliveries,
) -> Result<Vec<Addressed>, ErrorResponse> {
    let deliveries = deliveries.into_vec();
    let mut mailboxes: Vec<_> = deliveries.iter().map(|addressed| addressed.to).collect();
    mailboxes.sort_unstable();
    if mailboxes.windows(2).any(|pair| pair.first() == pair.last()) {
        return Err(error(ErrorCode::Invalid, "a recipient named twice"));
    }
    let fan_out: u64 = deliveries
        .iter()
        .map(|addressed| (SHARED_ENVELOPE_OVERHEAD + addressed.part.len() + body.len()) as u64)
        .sum();
    if fan_out > limits.max_shared_fanout_bytes {
        return Err(error(
            ErrorCode::Invalid,
            "shared send over the fan-out limit: fewer recipients or a smaller body",
        ));
    }
    Ok(deliveries
        .into_iter()
        .map(|addressed| Addressed {
            to: addressed.to,
            access: addressed.access,
            envelope: shared_envelope(&addressed.part, &body),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hush_proto::{MailboxId, SharedAddressed, SharedPart, split_shared_envelope};

    use super::*;

    fn recipient(byte: u8, part: &[u8]) -> SharedAddressed {
        SharedAddressed {
            to: MailboxId([byte; 32]),
            access: None,
            part: SharedPart::new(part.to_vec()).unwrap(),
        }
    }

    #[test]
    fn each_recipient_gets_its_part_with_the_body_and_duplicates_or_oversize_are_refused() {
        let body = SharedBody::new(vec![7; 100]).unwrap();
        let deliveries = SharedDeliveries::new(vec![recipient(1, b"one"), recipient(2, b"two")]).unwrap();
        let limits = Limits::default();
        let expanded = expand(&limits, body.clone(), deliveries).unwrap();
        assert_eq!(expanded.len(), 2);
        for (addressed, (to, part)) in expanded.iter().zip([(1, &b"one"[..]), (2, b"two")]) {
            assert_eq!(addressed.to, MailboxId([to; 32]));
            let split = split_shared_envelope(addressed.envelope.as_bytes()).unwrap();
            assert_eq!((split.part, split.body), (part, body.as_bytes()));
        }

        let twice =
            SharedDeliveries::new(vec![recipient(1, b"a"), recipient(2, b"b"), recipient(1, b"c")]).unwrap();
        assert_eq!(
            expand(&limits, body.clone(), twice).unwrap_err().code,
            ErrorCode::Invalid
        );

        // Two envelopes of 3 + 3 + 100 bytes: 212 is at the limit, 211 under it.
        let two = || SharedDeliveries::new(vec![recipient(1, b"one"), recipient(2, b"two")]).unwrap();
        let at = Limits {
            max_shared_fanout_bytes: 212,
            ..Limits::default()
        };
        assert!(expand(&at, body.clone(), two()).is_ok());
        let under = Limits {
            max_shared_fanout_bytes: 211,
            ..Limits::default()
        };
        assert_eq!(expand(&under, body, two()).unwrap_err().code, ErrorCode::Invalid);
    }
}
