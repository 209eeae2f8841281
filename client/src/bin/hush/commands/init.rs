//! `hush init`, `register` and `address`: a new profile, created only once its relay address is known to be right.
//!
//! The address is parsed and the relay tried (its certificate checked against the pinned
//! fingerprint) before the passphrase is asked or any file written, so a mistyped address, a
//! relay that is not running or a wrong fingerprint leaves nothing behind. `--offline` creates
//! the profile without trying the relay, for setting up before the relay is reachable; the
//! identity is made locally, and `hush register` (with `hush relay set` for another address)
//! registers it later.

use std::path::Path;

use anyhow::{Context, Result, bail};
use hush_client::{ClientError, NetError, RegistrationToken, RelayAddress};

use crate::profile::{self, Profile};

/// Prints the profile's address (its account's: what to share), this device's, and the
/// account safety number's half.
async fn print_identity(profile: &Profile) -> Result<()> {
    let address = profile.client.account_address().await?;
    println!("address: {address}");
    println!("device: {}", profile.client.address());
    let account = hush_crypto::devices::AccountKey::from_bytes(address.as_bytes())?;
    let half = hush_crypto::SafetyNumber::half_for_account(&account, address.to_string().as_bytes());
    println!("safety number (your half): {half}");
    Ok(())
}

pub async fn address(dir: &Path) -> Result<()> {
    let profile = Profile::open(dir).await?;
    print_identity(&profile).await?;
    profile.client.shutdown().await?;
    Ok(())
}

pub async fn init(dir: &Path, relay: &str, offline: bool, link: bool) -> Result<()> {
    let relay: RelayAddress = relay
        .parse()
        .with_context(|| format!("bad relay address {relay:?}; nothing was created"))?;
    profile::refuse_existing(dir)?;
    if !offline && let Err(error) = hush_client::check_relay(&relay).await {
        let what_to_do = match error {
            // Creating the profile anyway would only pin the wrong certificate.
            NetError::CertificateMismatch { .. } => "",
            _ => {
                " and that the relay is running, then run `hush init` again; or pass --offline to \
                 create the profile now and register later with `hush register`"
            }
        };
        bail!(
            "{error}.\nNothing was created. Check the address (the relay prints it at start-up){what_to_do}."
        );
    }
    if link {
        return super::device::init_link(dir, relay).await;
    }
    let profile = Profile::create(dir, relay).await?;
    println!("profile created in {}", dir.display());
    print_identity(&profile).await?;
    if offline {
        profile.client.shutdown().await?;
        println!(
            "not registered yet (--offline): run `hush register` once the relay is reachable \
             (`hush relay set ADDRESS` if its address changes)"
        );
        return Ok(());
    }
    let registered = profile.client.register().await;
    profile.client.shutdown().await?;
    match registered {
        Ok(()) => println!("registered with relay {}", profile.relay),
        Err(ClientError::Relay(NetError::RegistrationTokenRequired)) => bail!(
            "profile created, but the relay registers new addresses by token only. Send your address \
             to the relay's operator, then run `hush register --token <token>` with the token you get."
        ),
        Err(error) => bail!(
            "profile created, but registration failed: {error}. Run `hush register` to try again, or \
             give the profile the right address with `hush relay set ADDRESS` first."
        ),
    }
    Ok(())
}

pub async fn register(dir: &Path, token: Option<&str>) -> Result<()> {
    let token: Option<RegistrationToken> = token
        .map(|text| text.parse().context("that is not a registration token"))
        .transpose()?;
    let profile = Profile::open(dir).await?;
    if let Some(token) = token {
        profile.client.set_registration_token(token).await?;
    }
    let registered = profile.client.register().await;
    profile.client.shutdown().await?;
    registered?;
    println!("registered with relay {}", profile.relay);
    Ok(())
}
