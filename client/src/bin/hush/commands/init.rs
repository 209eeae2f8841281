//! `hush init`, `hush register` and `hush address`: creating a profile and registering it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use hush_client::{ClientError, NetError, RegistrationToken, RelayAddress};

use crate::profile::Profile;

/// Prints the profile's address and safety-number half.
fn print_identity(profile: &Profile) {
    let address = profile.client.address();
    println!("address: {address}");
    let half = hush_crypto::SafetyNumber::half_for(&address.identity(), address.to_string().as_bytes());
    println!("safety number (your half): {half}");
}

pub async fn address(dir: &Path) -> Result<()> {
    let profile = Profile::open(dir).await?;
    print_identity(&profile);
    profile.client.shutdown().await?;
    Ok(())
}

pub async fn init(dir: &Path, relay: &str) -> Result<()> {
    let relay: RelayAddress = relay
        .parse()
        .with_context(|| format!("bad relay address {relay:?}"))?;
    let profile = Profile::create(dir, relay).await?;
    println!("profile created in {}", dir.display());
    print_identity(&profile);
    match profile.client.register().await {
        Ok(()) => println!("registered with relay {}", profile.relay),
        Err(ClientError::Relay(NetError::RegistrationTokenRequired)) => {
            profile.client.shutdown().await?;
            bail!(
                "profile created, but the relay registers new addresses by token only. Send your address \
                 to the relay's operator, then run `hush register --token <token>` with the token you get."
            );
        }
        Err(error) => {
            profile.client.shutdown().await?;
            bail!(
                "profile created, but registration failed: {error}. Start the relay and run any command to retry, \
                 or give the profile the right address with `hush relay set ADDRESS`."
            );
        }
    }
    profile.client.shutdown().await?;
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
