//! Registration on a relay that admits new addresses only with a token from its operator's
//! registration authority: the refusals are typed, and a valid token registers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::time::{SystemTime, UNIX_EPOCH};

use hush_client::{Client, ClientError, Content, NetError, RegistrationToken};
use hush_relay::registration::RegistrationAuthority;

use helpers::*;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn register(client: &Client) -> Result<(), ClientError> {
    tokio::time::timeout(PATIENCE, client.register())
        .await
        .expect("registration timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_requiring_tokens_refuses_none_expired_and_forged_ones_and_admits_a_valid_one() {
    let authority = RegistrationAuthority::generate();
    let public = hush_relay::tls::to_hex(&authority.public_key());
    let relay = spawn_relay_with(|config| config.registration_key = Some(public)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let (alice, _events) = Client::open(&path, &test_key(1), relay.address.clone())
        .await
        .unwrap();
    let identity = alice.address().identity().to_bytes();

    // No token: the refusal says a token is needed.
    let error = register(&alice).await.unwrap_err();
    assert!(
        matches!(error, ClientError::Relay(NetError::RegistrationTokenRequired)),
        "{error:?}"
    );
    // Expired, for another address, or from another authority: refused, and the client can tell
    // an expired one by its own clock.
    let expired = authority.issue(&identity, now_secs() - 60);
    let other = hush_crypto::Account::new(0, &mut rand::rng())
        .identity_key()
        .to_bytes();
    let for_another = authority.issue(&other, now_secs() + 3600);
    let forged = RegistrationAuthority::generate().issue(&identity, now_secs() + 3600);
    for (token, expected_expired) in [(expired, true), (for_another, false), (forged, false)] {
        // Through the text form an operator hands out.
        let token: RegistrationToken = token.to_string().parse().unwrap();
        alice.set_registration_token(token).await.unwrap();
        let error = register(&alice).await.unwrap_err();
        assert!(
            matches!(error, ClientError::Relay(NetError::RegistrationTokenRefused { expired }) if expired == expected_expired),
            "{error:?}"
        );
    }

    // A valid token registers, prekeys and all: Bob (admitted the same way) reaches Alice.
    let token = authority.issue(&identity, now_secs() + 3600);
    alice.set_registration_token(token).await.unwrap();
    register(&alice).await.unwrap();
    let (bob, _bob_events) = Client::open(dir.path().join("b.db"), &test_key(2), relay.address.clone())
        .await
        .unwrap();
    let bob_identity = bob.address().identity().to_bytes();
    bob.set_registration_token(authority.issue(&bob_identity, now_secs() + 3600))
        .await
        .unwrap();
    register(&bob).await.unwrap();
    alice.shutdown().await.unwrap();

    // Registered once, the address logs in again with no token.
    let (alice, mut alice_events) = Client::open_existing(&path, &test_key(1), relay.address.clone())
        .await
        .unwrap();
    register(&alice).await.unwrap();
    // Bob is a contact of Alice's, not a stranger whose first message waits as a request.
    alice.accept(bob.address()).await.unwrap();
    bob.send(alice.address(), Content::text("welcome")).await.unwrap();
    let received = collect_until(&mut alice_events, |_, received| !received.is_empty()).await;
    assert_eq!(texts(&received), ["welcome"]);
    relay.stop().await;
}
