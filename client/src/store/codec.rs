//! Values to and from SQL: every read checks what it gets and fails with
//! [`StoreError::Decode`], never a panic, whatever the file holds.

use hush_client_core::{
    Address, Contact, Content, Direction, HeldMessage, HistoryEntry, MessageId, MessageStatus, OutboxItem,
    StoredMessage,
};
use rusqlite::Row;
use rusqlite::types::FromSql;

use super::StoreError;

/// A `u64` as SQLite's signed 64-bit integer, bit for bit: values from peers (a `conv_seq`, a
/// sender's clock) may use all 64 bits and must come back unchanged. Only values we assign and
/// keep small (history positions) are compared in SQL.
pub(super) fn int(value: u64) -> i64 {
    i64::from_ne_bytes(value.to_ne_bytes())
}

/// The inverse of [`int`].
pub(super) fn uint(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

/// A count or position for SQL, saturating (limits beyond `i64::MAX` mean "all").
pub(super) fn saturating(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

pub(super) fn direction_code(direction: Direction) -> i64 {
    match direction {
        Direction::Incoming => 0,
        Direction::Outgoing => 1,
    }
}

fn decode(what: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Decode {
        what,
        reason: reason.into(),
    }
}

/// Column `index` of `row`, or a decode error naming `what`.
pub(super) fn column<T: FromSql>(row: &Row<'_>, index: usize, what: &'static str) -> Result<T, StoreError> {
    row.get(index).map_err(|error| decode(what, error.to_string()))
}

pub(super) fn address(bytes: Vec<u8>) -> Result<Address, StoreError> {
    let found = bytes.len();
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| decode("address", format!("expected 32 bytes, found {found}")))?;
    Address::from_bytes(bytes).map_err(|error| decode("address", error.to_string()))
}

pub(super) fn message_id(bytes: Vec<u8>) -> Result<MessageId, StoreError> {
    let found = bytes.len();
    bytes
        .try_into()
        .map(MessageId)
        .map_err(|_| decode("message id", format!("expected 16 bytes, found {found}")))
}

fn direction(code: i64) -> Result<Direction, StoreError> {
    match code {
        0 => Ok(Direction::Incoming),
        1 => Ok(Direction::Outgoing),
        other => Err(decode("direction", format!("unknown code {other}"))),
    }
}

pub(super) fn status(code: i64) -> Result<MessageStatus, StoreError> {
    u8::try_from(code)
        .ok()
        .and_then(MessageStatus::from_code)
        .ok_or_else(|| decode("message status", format!("unknown code {code}")))
}

fn content(kind: i64, body: Vec<u8>) -> Result<Content, StoreError> {
    let kind = u16::try_from(kind).map_err(|_| decode("content kind", format!("{kind} is out of range")))?;
    Content::from_parts(kind, body).map_err(|error| decode("content", error.to_string()))
}

/// The columns [`message`] reads, in order.
pub(super) const MESSAGE_COLUMNS: &str =
    "position, id, peer, direction, conv_seq, sent_at, stored_at, kind, body, status";

/// A `messages` row selected with [`MESSAGE_COLUMNS`].
pub(super) fn message(row: &Row<'_>) -> Result<HistoryEntry, StoreError> {
    let position: i64 = column(row, 0, "position")?;
    let position =
        u64::try_from(position).map_err(|_| decode("position", format!("{position} is negative")))?;
    let message = StoredMessage {
        id: message_id(column(row, 1, "message id")?)?,
        peer: address(column(row, 2, "address")?)?,
        direction: direction(column(row, 3, "direction")?)?,
        conv_seq: uint(column(row, 4, "conv_seq")?),
        sent_at: uint(column(row, 5, "sent_at")?),
        stored_at: uint(column(row, 6, "stored_at")?),
        content: content(column(row, 7, "content kind")?, column(row, 8, "content")?)?,
        status: status(column(row, 9, "message status")?)?,
    };
    Ok(HistoryEntry { position, message })
}

/// An `outbox` row: `id, peer, conv_seq, payload, envelope, created_at, not_before`.
pub(super) fn outbox_item(row: &Row<'_>) -> Result<OutboxItem, StoreError> {
    Ok(OutboxItem {
        id: message_id(column(row, 0, "message id")?)?,
        peer: address(column(row, 1, "address")?)?,
        conv_seq: uint(column(row, 2, "conv_seq")?),
        payload: column(row, 3, "payload")?,
        envelope: column(row, 4, "envelope")?,
        created_at: uint(column(row, 5, "created_at")?),
        not_before: uint(column(row, 6, "not_before")?),
    })
}

/// A `held` row: `peer, conv_seq, payload, received_at`.
pub(super) fn held(row: &Row<'_>) -> Result<HeldMessage, StoreError> {
    Ok(HeldMessage {
        peer: address(column(row, 0, "address")?)?,
        conv_seq: uint(column(row, 1, "conv_seq")?),
        payload: column(row, 2, "payload")?,
        received_at: uint(column(row, 3, "received_at")?),
    })
}

/// A `contacts` row: `name, address, verified, added_at`.
pub(super) fn contact(row: &Row<'_>) -> Result<Contact, StoreError> {
    Ok(Contact {
        name: column(row, 0, "contact name")?,
        address: address(column(row, 1, "address")?)?,
        verified: column(row, 2, "verified flag")?,
        added_at: uint(column(row, 3, "added_at")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_bit_for_bit() {
        for value in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(uint(int(value)), value);
        }
        assert_eq!(int(5), 5);
        assert_eq!(saturating(u64::MAX), i64::MAX);
        assert_eq!(saturating(7usize), 7);
    }

    #[test]
    fn bad_values_are_decode_errors() {
        assert!(matches!(
            address(vec![1; 31]),
            Err(StoreError::Decode { what: "address", .. })
        ));
        assert!(matches!(
            address(vec![0; 32]),
            Err(StoreError::Decode { what: "address", .. })
        ));
        assert!(matches!(message_id(vec![1; 17]), Err(StoreError::Decode { .. })));
        assert!(matches!(direction(2), Err(StoreError::Decode { .. })));
        assert!(matches!(status(5), Err(StoreError::Decode { .. })));
        assert!(matches!(status(-1), Err(StoreError::Decode { .. })));
        assert!(matches!(content(1 << 16, vec![]), Err(StoreError::Decode { .. })));
        assert!(matches!(content(1, vec![0xff]), Err(StoreError::Decode { .. })));
        assert_eq!(status(11).unwrap(), MessageStatus::Seen);
        assert_eq!(
            direction(direction_code(Direction::Outgoing)).unwrap(),
            Direction::Outgoing
        );
    }
}
