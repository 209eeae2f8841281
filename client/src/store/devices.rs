//! This device's account (`own_account`, one row) and a link request waiting for its answer
//! (`link_request`, one row). The account key's seed and the request's secrets are pickles,
//! encrypted again with the pickle key as the account's is.

use hush_client_core::OwnAccountRecord;
use hush_crypto::PickleKey;
use hush_crypto::devices::{AccountKeyPickle, LinkRequestPickle};
use rusqlite::{Connection, OptionalExtension};

use super::StoreError;
use super::codec::uint;

fn undecodable(what: &'static str) -> impl Fn(hush_crypto::PickleError) -> StoreError {
    move |error| StoreError::Decode {
        what,
        reason: error.to_string(),
    }
}

pub(super) fn load_own(
    conn: &Connection,
    pickle_key: &PickleKey,
) -> Result<Option<OwnAccountRecord>, StoreError> {
    let row: Option<(Option<Vec<u8>>, Vec<u8>, i64)> = conn
        .prepare_cached("SELECT signing_key, list, published FROM own_account WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    row.map(|(signing_key, list, published)| {
        let signing_key = signing_key
            .map(|sealed| {
                AccountKeyPickle::from_encrypted(pickle_key, &sealed)
                    .map_err(undecodable("account key pickle"))
            })
            .transpose()?;
        Ok(OwnAccountRecord {
            signing_key,
            list,
            published: uint(published),
        })
    })
    .transpose()
}

pub(super) fn load_link_request(
    conn: &Connection,
    pickle_key: &PickleKey,
) -> Result<Option<LinkRequestPickle>, StoreError> {
    let sealed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT pickle FROM link_request WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    sealed
        .map(|sealed| {
            LinkRequestPickle::from_encrypted(pickle_key, &sealed).map_err(undecodable("link request pickle"))
        })
        .transpose()
}

/// Re-encrypts the account key's and the link request's pickles of the database `schema`
/// (`rekeyed`: a passphrase change's copy; `main`: a restored backup).
pub(super) fn reseal(
    conn: &Connection,
    schema: &str,
    old: &PickleKey,
    new: &PickleKey,
) -> Result<(), StoreError> {
    let sealed: Option<Option<Vec<u8>>> = conn
        .query_row(
            &format!("SELECT signing_key FROM {schema}.own_account WHERE id = 1"),
            [],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(Some(sealed)) = sealed {
        let pickle =
            AccountKeyPickle::from_encrypted(old, &sealed).map_err(undecodable("account key pickle"))?;
        conn.execute(
            &format!("UPDATE {schema}.own_account SET signing_key = ?1 WHERE id = 1"),
            [pickle.encrypt(new, &mut rand::rng())],
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
