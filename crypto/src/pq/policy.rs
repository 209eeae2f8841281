//! Whether a session may still start with classical X3DH alone.

/// What setup a caller accepts. The default is post-quantum: a bundle without a KEM prekey (or,
/// on the responder, a pre-key message without a KEM ciphertext) is refused, so a relay cannot
/// downgrade a session by stripping the KEM prekey. [`SetupPolicy::AllowClassical`] is for
/// contacts whose software does not publish KEM prekeys yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SetupPolicy {
    /// PQXDH only (SPEC.md §17).
    #[default]
    RequirePostQuantum,
    /// PQXDH when the bundle has a KEM prekey, classical X3DH (§6) when it has none.
    AllowClassical,
}

impl SetupPolicy {
    /// Whether a setup without a KEM shared secret is accepted.
    pub fn allows_classical(self) -> bool {
        matches!(self, Self::AllowClassical)
    }
}
