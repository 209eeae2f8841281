//! The session setup policy: PQXDH (hybrid X3DH + ML-KEM-1024) unless the app allows classical
//! X3DH, on both sides of a new session. A bundle without a KEM prekey is fetched again a few
//! times (its owner may have just registered, its KEM upload a moment behind its EC one) and
//! then refused for good: its queued messages fail.

use crate::address::Address;
use crate::core::Core;
use crate::event::Event;
use crate::outbox::NOT_FOUND_RETRIES;
use hush_crypto::SessionMessage;
use hush_crypto::peer::PeerSessions;
use hush_crypto::pq::SetupPolicy;

impl Core {
    /// Sets which session setups are accepted from now on, as initiator (bundles) and as
    /// responder (pre-key messages). The default, [`SetupPolicy::RequirePostQuantum`], refuses
    /// a bundle without a KEM prekey and a pre-key message without a KEM ciphertext, so neither
    /// an old contact nor a relay that strips KEM prekeys gets a session that a quantum
    /// computer could later open; [`SetupPolicy::AllowClassical`] accepts them. Sessions that
    /// exist are kept either way.
    pub fn set_setup_policy(&mut self, policy: SetupPolicy) {
        self.setup_policy = policy;
    }

    /// The session setup policy in force.
    pub fn setup_policy(&self) -> SetupPolicy {
        self.setup_policy
    }

    /// `peer`'s bundle had no KEM prekey and the policy requires one.
    pub(crate) fn on_classical_bundle(&mut self, now: u64, peer: Address) {
        self.event(Event::ClassicalSetupRefused { peer });
        if self.backoff.failures(&peer) < NOT_FOUND_RETRIES {
            self.backoff.back_off(now, peer, &mut self.rng);
            return;
        }
        self.backoff.clear(&peer);
        self.fail_unsent_to(peer);
    }
}

/// Whether `message` would start a new session with `peer` (a pre-key message no session of it
/// matches), and if so whether that session is post-quantum (it carries a KEM ciphertext).
pub(crate) fn starts_session(peer: &PeerSessions, message: &SessionMessage) -> Option<bool> {
    let SessionMessage::PreKey(prekey) = message else {
        return None;
    };
    let known = peer.sessions().iter().any(|session| session.matches(prekey));
    (!known).then(|| prekey.kem().is_some())
}
