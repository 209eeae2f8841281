//! The address book: adding, verifying, renaming and removing contacts.
//!
//! A contact is a name for an address, nothing more. Removing one keeps the history with its
//! address, the sessions, and the peer's standing: it stays accepted and keeps the access key it
//! was given, so its messages still arrive (as from an address without a name). To stop them,
//! [`Client::block`] it, which also rotates the access key.

use hush_client_core::{Address, Contact, Store};
use tokio::sync::oneshot;

use super::{Client, IdentityDecision, stopped};
use crate::driver::{Command, now_ms};
use crate::error::ClientError;
use crate::events::ClientEvent;

/// How a contact was added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContactUpdate {
    /// A new contact.
    Added,
    /// A new contact, but the address book already had its address under other names (two
    /// names for one person, or a pasted address meant for someone else): worth a warning.
    AddedDuplicate {
        /// The names the address already had, in name order.
        other_names: Vec<String>,
    },
    /// Already there with this address.
    Unchanged,
    /// The address changed (accepted by the policy).
    Changed,
}

impl Client {
    /// The address book.
    pub async fn contacts(&self) -> Result<Vec<Contact>, ClientError> {
        self.with_store(|store| store.contacts()).await
    }

    /// The contact called `name`.
    pub async fn contact(&self, name: &str) -> Result<Contact, ClientError> {
        let name = name.to_owned();
        let contacts = self.contacts().await?;
        contacts
            .into_iter()
            .find(|contact| contact.name == name)
            .ok_or(ClientError::UnknownContact(name))
    }

    /// Adds `name` → `address` and accepts `address` (see [`Client::accept`]). If `name` exists
    /// with another address, that is an identity change: the policy decides, and a
    /// [`ClientEvent::ContactIdentityChanged`] reports it. Our own address is refused with
    /// [`ClientError::OwnAddress`]; an address already there under another name is added and
    /// reported as [`ContactUpdate::AddedDuplicate`].
    ///
    /// ```no_run
    /// # async fn demo(client: hush_client::Client, bob: hush_client::Address) -> Result<(), hush_client::ClientError> {
    /// use hush_client::ContactUpdate;
    ///
    /// if let ContactUpdate::AddedDuplicate { other_names } = client.add_contact("bob", bob).await? {
    ///     eprintln!("warning: that address is also {}", other_names.join(", "));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn add_contact(&self, name: &str, address: Address) -> Result<ContactUpdate, ClientError> {
        if address == self.address || address == self.account_address().await? {
            return Err(ClientError::OwnAddress);
        }
        let contacts = self.contacts().await?;
        let update = match contacts.iter().find(|contact| contact.name == name) {
            None => {
                let other_names: Vec<String> = contacts
                    .iter()
                    .filter(|contact| contact.address == address)
                    .map(|contact| contact.name.clone())
                    .collect();
                if other_names.is_empty() {
                    ContactUpdate::Added
                } else {
                    ContactUpdate::AddedDuplicate { other_names }
                }
            }
            Some(contact) if contact.address == address => return Ok(ContactUpdate::Unchanged),
            Some(contact) => {
                let accepted = self.policy.on_identity_change(contact, &address) == IdentityDecision::Accept;
                let _ = self.events.send(ClientEvent::ContactIdentityChanged {
                    name: name.to_owned(),
                    old: contact.address,
                    new: address,
                    accepted,
                });
                if !accepted {
                    return Err(ClientError::IdentityChangeRejected {
                        name: name.to_owned(),
                    });
                }
                ContactUpdate::Changed
            }
        };
        let contact = Contact {
            name: name.to_owned(),
            address,
            verified: false,
            added_at: now_ms(),
        };
        self.put_contact(contact).await?;
        // Someone in the address book is not a stranger: their messages are not requests.
        self.accept(address).await?;
        Ok(update)
    }

    /// Removes the contact `name` and returns it. Only the name goes: the history with its
    /// address stays (listed under the address), and so do the sessions and the peer's
    /// standing, so it keeps the access key it was given and its messages still arrive. To
    /// stop them, [`Client::block`] the address, which also rotates the access key.
    ///
    /// ```no_run
    /// # async fn demo(client: hush_client::Client) -> Result<(), hush_client::ClientError> {
    /// let removed = client.remove_contact("bob").await?;
    /// println!("removed bob ({}); the history stays", removed.address);
    /// # Ok(()) }
    /// ```
    pub async fn remove_contact(&self, name: &str) -> Result<Contact, ClientError> {
        let contact = self.contact(name).await?;
        let (reply, answer) = oneshot::channel();
        let name = contact.name.clone();
        self.command(Command::RemoveContact { name, reply }).await?;
        answer.await.map_err(|_| stopped())??;
        Ok(contact)
    }

    /// Renames the contact `old` to `new`, keeping its address, verified flag and the time it
    /// was added, in one commit. Fails with [`ClientError::UnknownContact`] if there is no
    /// `old` and [`ClientError::ContactNameTaken`] if `new` is another contact's name.
    ///
    /// ```no_run
    /// # async fn demo(client: hush_client::Client) -> Result<(), hush_client::ClientError> {
    /// client.rename_contact("bob", "Robert").await?;
    /// # Ok(()) }
    /// ```
    pub async fn rename_contact(&self, old: &str, new: &str) -> Result<(), ClientError> {
        let contacts = self.contacts().await?;
        let mut contact = contacts
            .iter()
            .find(|contact| contact.name == old)
            .cloned()
            .ok_or_else(|| ClientError::UnknownContact(old.to_owned()))?;
        if old == new {
            return Ok(());
        }
        if contacts.iter().any(|contact| contact.name == new) {
            return Err(ClientError::ContactNameTaken(new.to_owned()));
        }
        new.clone_into(&mut contact.name);
        let (reply, answer) = oneshot::channel();
        let old = old.to_owned();
        self.command(Command::RenameContact { old, contact, reply })
            .await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Records that the user compared safety numbers with `name`.
    pub async fn verify_contact(&self, name: &str) -> Result<(), ClientError> {
        let mut contact = self.contact(name).await?;
        contact.verified = true;
        self.put_contact(contact).await
    }

    /// The name for `address` in the address book, if any.
    pub async fn name_of(&self, address: &Address) -> Result<Option<String>, ClientError> {
        let contacts = self.contacts().await?;
        Ok(contacts
            .into_iter()
            .find(|contact| contact.address == *address)
            .map(|contact| contact.name))
    }

    /// Through the core, like every write: the driver answers once it is durable.
    async fn put_contact(&self, contact: Contact) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::PutContact { contact, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }
}
