//! Identity-key signatures for purposes outside the protocol core (a relay login, a registration
//! token). Each is made over a fixed prefix that names its purpose, so no such signature can pass
//! as a signed-prekey signature (`"Hush_v1_SignedPreKey" || ..`, SPEC.md §5) or as one for
//! another purpose, whatever bytes the caller is asked to sign.

use crate::error::KeyError;
use crate::keys::IdentityKey;

/// First bytes of every purpose signature. It differs from `"Hush_v1_SignedPreKey"` at byte 8,
/// so neither is a prefix of the other.
pub const PURPOSE_SIGNATURE_LABEL: &[u8] = b"Hush_v1_IdentitySignature";

/// What an [`crate::Account::sign`] signature is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignaturePurpose {
    /// Logging in to a relay; the message is the relay protocol's login transcript.
    RelayLogin,
    /// A relay operator's registration token; the message names the identity and the expiry.
    RegistrationToken,
    /// A device list, signed by an account key (SPEC.md §16.2); the message is the list's
    /// encoding up to its signature.
    DeviceList,
    /// A device's consent to belong to an account, signed by the device's identity key; the
    /// message is the 32-byte account key (SPEC.md §16.3).
    AccountMembership,
    /// A KEM prekey (SPEC.md §17.2); the message is `algorithm || kind || id || ek`.
    KemPreKey,
    /// A group update, signed by its author device's identity key; the message is the update's
    /// encoding up to its signature (proto/PROTOCOL.md, "Group updates").
    GroupUpdate,
}

impl SignaturePurpose {
    /// The byte that follows [`PURPOSE_SIGNATURE_LABEL`].
    pub fn tag(self) -> u8 {
        match self {
            Self::RelayLogin => 1,
            Self::RegistrationToken => 2,
            Self::DeviceList => 3,
            Self::AccountMembership => 4,
            Self::KemPreKey => 5,
            Self::GroupUpdate => 6,
        }
    }
}

/// The exact bytes a purpose signature covers: `"Hush_v1_IdentitySignature" || u8 tag || message`.
pub fn purpose_signed_message(purpose: SignaturePurpose, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PURPOSE_SIGNATURE_LABEL.len() + 1 + message.len());
    out.extend_from_slice(PURPOSE_SIGNATURE_LABEL);
    out.push(purpose.tag());
    out.extend_from_slice(message);
    out
}

impl IdentityKey {
    /// Verifies (strictly) a signature made by [`crate::Account::sign`] for `purpose` over
    /// `message`.
    pub fn verify_for(
        &self,
        purpose: SignaturePurpose,
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), KeyError> {
        self.verify(&purpose_signed_message(purpose, message), signature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::messages::signed_prekey_message;
    use crate::{Account, BundleError, Curve25519PublicKey};

    const ALL_PURPOSES: [SignaturePurpose; 5] = [
        SignaturePurpose::RelayLogin,
        SignaturePurpose::RegistrationToken,
        SignaturePurpose::DeviceList,
        SignaturePurpose::AccountMembership,
        SignaturePurpose::KemPreKey,
    ];

    /// Under a raw `sign(message)`, whoever chose `message` (a malicious relay's login
    /// challenge, say) could get a valid signed-prekey signature for a key of their own and serve
    /// a bundle that passes verification. With the purpose prefix it never verifies.
    #[test]
    fn purpose_signature_never_verifies_as_a_signed_prekey_signature() {
        let mut rng = rand::rng();
        let victim = Account::new(1_700_000_000, &mut rng);
        let attacker_key =
            Curve25519PublicKey::from_bytes(&crate::primitives::x25519_base(&[5; 32])).unwrap();
        let forged_message = signed_prekey_message(77, 1_700_000_000, &attacker_key);
        for purpose in ALL_PURPOSES {
            let signature = victim.sign(purpose, &forged_message);
            let mut bundle = victim.prekey_bundle(None).unwrap();
            bundle.signed_prekey.id = 77;
            bundle.signed_prekey.created_at = 1_700_000_000;
            bundle.signed_prekey.key = attacker_key;
            bundle.signed_prekey.signature = signature;
            assert_eq!(bundle.verify(None).unwrap_err(), BundleError::BadSignature);
            assert!(victim.identity_key().verify(&forged_message, &signature).is_err());
            // It verifies for its own purpose only.
            assert!(
                victim
                    .identity_key()
                    .verify_for(purpose, &forged_message, &signature)
                    .is_ok()
            );
            for other in ALL_PURPOSES {
                if other != purpose {
                    assert!(
                        victim
                            .identity_key()
                            .verify_for(other, &forged_message, &signature)
                            .is_err()
                    );
                }
            }
        }
        // Nor does a purpose signature over bytes shaped like any other purpose's message.
        let login = victim.sign(SignaturePurpose::RelayLogin, b"");
        let reframed = purpose_signed_message(SignaturePurpose::RegistrationToken, b"");
        assert!(victim.identity_key().verify(&reframed, &login).is_err());
    }
}
