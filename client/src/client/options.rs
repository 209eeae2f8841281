//! How a profile is opened: the identity policy and the session setup policy.

use std::path::Path;
use std::sync::Arc;

use hush_client_core::SetupPolicy;

use super::{Client, IdentityPolicy, Opening, TrustOnFirstUse};
use crate::error::ClientError;
use crate::relay_address::RelayAddress;
use crate::store::DatabaseKey;

/// What [`Client::open_with_options`] sets up beyond the profile and the relay.
///
/// ```
/// use hush_client::{OpenOptions, SetupPolicy};
///
/// // The default: PQXDH only; a contact whose bundle has no KEM prekey cannot be reached.
/// assert_eq!(OpenOptions::default().setup_policy, SetupPolicy::RequirePostQuantum);
/// // An app that must still reach contacts on software without KEM prekeys says so.
/// let options = OpenOptions::default().allow_classical_setup();
/// assert_eq!(options.setup_policy, SetupPolicy::AllowClassical);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Decides about contacts whose identity changes ([`TrustOnFirstUse`] by default).
    pub identity_policy: Arc<dyn IdentityPolicy>,
    /// Which session setups are accepted, as initiator and as responder:
    /// [`SetupPolicy::RequirePostQuantum`] by default (see SECURITY.md, "A quantum-capable
    /// recorder"). A refused bundle shows as [`hush_client_core::Event::ClassicalSetupRefused`]
    /// and its messages fail; a refused first message as a drop.
    pub setup_policy: SetupPolicy,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            identity_policy: Arc::new(TrustOnFirstUse),
            setup_policy: SetupPolicy::default(),
        }
    }
}

impl core::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("setup_policy", &self.setup_policy)
            .finish_non_exhaustive()
    }
}

impl OpenOptions {
    /// These options with `policy` deciding identity changes.
    pub fn identity_policy(mut self, policy: Arc<dyn IdentityPolicy>) -> Self {
        self.identity_policy = policy;
        self
    }

    /// These options with classical X3DH accepted where a contact publishes no KEM prekey.
    pub fn allow_classical_setup(mut self) -> Self {
        self.setup_policy = SetupPolicy::AllowClassical;
        self
    }
}

impl Client {
    /// [`Client::open`] with [`OpenOptions`].
    pub async fn open_with_options(
        path: impl AsRef<Path>,
        key: &DatabaseKey,
        relay: RelayAddress,
        options: OpenOptions,
    ) -> Result<(Self, crate::Events), ClientError> {
        Self::start(path.as_ref(), key, relay, options, Opening::Any).await
    }
}
