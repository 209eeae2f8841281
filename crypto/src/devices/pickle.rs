//! Saved forms of the account layer's secrets, sealed as every other pickle is
//! ([`crate::pickle`]): the account key's seed on a holder device, and a link request a new
//! device waits on (so a device that restarts before the answer arrives can still open it).

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::AccountSigningKey;
use super::code::{LinkCode, LinkRequest};
use crate::error::PickleError;
use crate::keys::{Curve25519KeyPair, Secret32};
use crate::pickle::{self, PickleKey, pickle_envelope};

/// The saved form of an [`AccountSigningKey`]: its 32-byte seed. Wiped on drop; store it
/// encrypted ([`AccountKeyPickle::encrypt`]).
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct AccountKeyPickle {
    seed: [u8; 32],
}

pickle_envelope!(AccountKeyPickle, pickle::KIND_ACCOUNT_KEY);

impl PartialEq for AccountKeyPickle {
    fn eq(&self, other: &Self) -> bool {
        crate::primitives::ct_eq(&self.seed, &other.seed)
    }
}

impl Eq for AccountKeyPickle {}

impl AccountSigningKey {
    /// The key's saved form.
    pub fn pickle(&self) -> AccountKeyPickle {
        AccountKeyPickle {
            seed: *self.seed().bytes(),
        }
    }

    /// Restores a key from its saved form.
    pub fn from_pickle(pickle: &AccountKeyPickle) -> Self {
        Self::from_seed(&Secret32::new(pickle.seed))
    }
}

/// The saved form of a [`LinkRequest`]: the code's fields, the link key's secret, and whether
/// it already accepted a message. Wiped on drop; store it encrypted.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct LinkRequestPickle {
    code: Vec<u8>,
    ephemeral_secret: [u8; 32],
    used: bool,
}

pickle_envelope!(LinkRequestPickle, pickle::KIND_LINK_REQUEST);

impl PartialEq for LinkRequestPickle {
    fn eq(&self, other: &Self) -> bool {
        crate::primitives::ct_eq(&self.code, &other.code)
            && crate::primitives::ct_eq(&self.ephemeral_secret, &other.ephemeral_secret)
            && self.used == other.used
    }
}

impl Eq for LinkRequestPickle {}

impl LinkRequest {
    /// The request's saved form (secrets included: seal it before storing).
    pub fn pickle(&self) -> LinkRequestPickle {
        LinkRequestPickle {
            code: self.code.to_bytes(),
            ephemeral_secret: *self.ephemeral.secret().bytes(),
            used: self.used,
        }
    }

    /// Restores a request from its saved form. Refuses a code that does not decode, or whose
    /// link key is not the public half of the saved secret.
    pub fn from_pickle(pickle: &LinkRequestPickle) -> Result<Self, PickleError> {
        let code = LinkCode::from_bytes(&pickle.code).map_err(|_| PickleError::Malformed)?;
        let ephemeral = Curve25519KeyPair::from_secret(Secret32::new(pickle.ephemeral_secret));
        if !pickle.used && ephemeral.public() != code.ephemeral() {
            return Err(PickleError::Malformed);
        }
        let mut request = Self {
            code,
            ephemeral,
            used: pickle.used,
        };
        if request.used {
            request.code.wipe_secret();
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::Account;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn account_key_survives_its_sealed_pickle() {
        let mut rng = StdRng::seed_from_u64(6);
        let key = AccountSigningKey::generate(&mut rng);
        let pickle_key = PickleKey::new([7; 32]);
        let sealed = key.pickle().encrypt(&pickle_key, &mut rng);
        let opened = AccountKeyPickle::from_encrypted(&pickle_key, &sealed).unwrap();
        assert_eq!(AccountSigningKey::from_pickle(&opened).public(), key.public());
        // Another kind of pickle does not open as an account key.
        let account = Account::new(NOW, &mut rng)
            .pickle()
            .encrypt(&pickle_key, &mut rng);
        assert!(AccountKeyPickle::from_encrypted(&pickle_key, &account).is_err());
        assert!(AccountKeyPickle::from_encrypted(&PickleKey::new([8; 32]), &sealed).is_err());
    }

    #[test]
    fn a_pickle_whose_link_key_is_not_the_codes_is_refused() {
        let mut rng = StdRng::seed_from_u64(8);
        let laptop = Account::new(NOW, &mut rng);
        let one = LinkRequest::new(laptop.identity_key(), NOW, &mut rng).pickle();
        let other = LinkRequest::new(laptop.identity_key(), NOW, &mut rng).pickle();
        let mixed = LinkRequestPickle {
            code: one.code.clone(),
            ephemeral_secret: other.ephemeral_secret,
            used: false,
        };
        assert!(matches!(
            LinkRequest::from_pickle(&mixed),
            Err(PickleError::Malformed)
        ));
    }
}
