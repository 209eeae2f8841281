//! The kind of a KEM prekey (a leaf: errors name it).

/// Which kind of KEM prekey: the kind is signed, so a one-time key cannot be replayed as reusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KemPreKeyKind {
    /// Served to one initiator and erased by its owner after the first session.
    OneTime,
    /// Served when the one-time ones ran out; bound to the signed prekey with the same id and
    /// erased with it.
    LastResort,
}

impl KemPreKeyKind {
    /// The byte on the wire: 1 one-time, 2 last-resort.
    pub fn tag(self) -> u8 {
        match self {
            Self::OneTime => 1,
            Self::LastResort => 2,
        }
    }

    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::OneTime),
            2 => Some(Self::LastResort),
            _ => None,
        }
    }
}
