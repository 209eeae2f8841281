//! This device's account and its devices (test-vectors/SPEC.md §16): what the account's device
//! list names.

use hush_crypto::devices::{AccountKey, DeviceEntry, DeviceList};
use tokio::sync::oneshot;

use super::{Client, stopped};
use crate::driver::Command;
use crate::error::ClientError;

impl Client {
    /// Our account's pinned device list (signed by the account key; it names this device).
    pub async fn device_list(&self) -> Result<DeviceList, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::DeviceList { reply }).await?;
        answer.await.map_err(|_| stopped())
    }

    /// Our account key: the address and safety number are computed over it.
    pub async fn account_key(&self) -> Result<AccountKey, ClientError> {
        Ok(*self.device_list().await?.account_key())
    }

    /// The devices of our account, this one included, in ascending order of identity key.
    pub async fn devices(&self) -> Result<Vec<DeviceEntry>, ClientError> {
        Ok(self.device_list().await?.devices().to_vec())
    }
}
