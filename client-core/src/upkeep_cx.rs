//! What prekey upkeep (EC and KEM) works on: the account, and where its requests and commits go.

use hush_crypto::Account;
use rand_core::CryptoRng;

use crate::link::Link;
use crate::outputs::Outputs;

/// What upkeep works on: the account, and where its requests and commits go.
pub(crate) struct UpkeepCx<'a> {
    pub(crate) account: &'a mut Account,
    pub(crate) rng: &'a mut (dyn CryptoRng + Send),
    pub(crate) link: &'a mut Link,
    pub(crate) out: &'a mut Outputs,
}

impl UpkeepCx<'_> {
    /// The same parts, for one call that does not take them for good.
    pub(crate) fn reborrow(&mut self) -> UpkeepCx<'_> {
        UpkeepCx {
            account: self.account,
            rng: self.rng,
            link: self.link,
            out: self.out,
        }
    }
}
