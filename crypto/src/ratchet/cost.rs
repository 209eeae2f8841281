//! What a decryption would cost, from the counters alone, before any key is derived.

use super::{MAX_SKIP, Ratchet};
use crate::messages::Message;

impl Ratchet {
    /// The key derivations (KDF_CK and KDF_RK steps) [`Ratchet::decrypt`] makes for `message`
    /// before its tag is checked; 0 when it refuses first. Follows `decrypt`'s paths exactly; a
    /// DH step also costs one X25519, which callers bound by the number of sessions they try.
    pub(crate) fn decrypt_cost(&self, message: &Message) -> u32 {
        let counter = message.counter;
        if let Some(index) = self.receiving.find(&message.ratchet_key) {
            // A skipped key, a duplicate or a closed chain: no derivation.
            let Some(chain) = self.receiving.get(index) else {
                return 0;
            };
            if counter < chain.next || chain.chain_key.is_none() {
                return 0;
            }
            let gap = counter - chain.next;
            return if gap > MAX_SKIP { 0 } else { gap + 1 };
        }
        let closed = match self.receiving.current() {
            Some(current) if message.previous_counter > current.next => {
                let gap = message.previous_counter - current.next;
                if gap > MAX_SKIP {
                    return 0;
                }
                gap + 1
            }
            _ => 0,
        };
        if counter > MAX_SKIP {
            return 0;
        }
        // The closed chain's tail, KDF_RK, then the new chain up to and including `counter`.
        closed + 1 + counter + 1
    }
}
