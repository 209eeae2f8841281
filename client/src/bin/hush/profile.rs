//! A profile directory: `profile.db` (encrypted) and `relay` (the relay address, not secret).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hush_client::{Address, Client, ClientError, DatabaseKey, Events, RelayAddress, StoreError};

const DATABASE: &str = "profile.db";
const RELAY_FILE: &str = "relay";

pub struct Profile {
    pub client: Client,
    pub events: Events,
    pub relay: RelayAddress,
}

/// The passphrase; `confirm`: a new profile's, typed twice at a terminal.
fn passphrase(confirm: bool) -> Result<String> {
    ask_secret("HUSH_PASSPHRASE", "passphrase", confirm)
}

/// A passphrase from the environment variable `env`, else typed at a terminal after
/// `prompt` (twice if `confirm`), else the next line of standard input.
pub fn ask_secret(env: &str, prompt: &str, confirm: bool) -> Result<String> {
    let empty = || anyhow::anyhow!("an empty {prompt} is not allowed (set {env} or type one)");
    if let Ok(passphrase) = std::env::var(env) {
        return Ok(passphrase);
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        // Typed at a terminal: no echo.
        let passphrase = rpassword::prompt_password(format!("{prompt}: "))
            .with_context(|| format!("cannot read the {prompt}"))?;
        if passphrase.is_empty() {
            return Err(empty());
        }
        if confirm {
            let again = rpassword::prompt_password(format!("{prompt} again: "))
                .with_context(|| format!("cannot read the {prompt}"))?;
            if again != passphrase {
                bail!("the two entries of the {prompt} differ; nothing was changed");
            }
        }
        return Ok(passphrase);
    }
    eprint!("{prompt}: ");
    // Byte by byte and unbuffered, so nothing after the passphrase line is taken from the
    // stream `hush chat` reads its input from.
    let mut bytes = Vec::new();
    let mut input = unbuffered_stdin()?;
    let mut byte = [0u8; 1];
    loop {
        let read = std::io::Read::read(&mut input, &mut byte)
            .with_context(|| format!("cannot read the {prompt} from standard input"))?;
        let [value] = byte;
        if read == 0 || value == b'\n' {
            break;
        }
        bytes.push(value);
    }
    let line = String::from_utf8(bytes).with_context(|| format!("the {prompt} is not UTF-8"))?;
    let passphrase = line.trim_end_matches(['\r', '\n']).to_owned();
    if passphrase.is_empty() {
        return Err(empty());
    }
    Ok(passphrase)
}

/// Standard input without std's buffer (a duplicate of descriptor 0).
fn unbuffered_stdin() -> Result<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot read standard input")?;
    Ok(std::fs::File::from(fd))
}

/// The profile directory, for its owner only (0700 on Unix): it holds the encrypted database
/// and whom the profile talks to through which relay.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `path` readable by its owner only (0600 on Unix).
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = hush_client::private_file(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

pub fn key(dir: &Path, passphrase: &str) -> Result<DatabaseKey> {
    DatabaseKey::from_passphrase(passphrase, &dir.join(DATABASE)).map_err(|error| match error {
        StoreError::WrongKey => anyhow::anyhow!("wrong passphrase for this profile"),
        other => anyhow::Error::new(other).context("cannot derive the database key"),
    })
}

/// A failed open in the user's words; `key` tells whether a wrong key can be told from damage.
pub fn explain(error: ClientError, key: &DatabaseKey) -> anyhow::Error {
    match error {
        // Only a key without a check (a profile from before key checks) gets here wrong.
        ClientError::Store(StoreError::WrongKey) if !key.is_checked() => anyhow::anyhow!(
            "wrong passphrase for this profile (or its database's first page is damaged: this profile \
             predates key checks, so the two look the same until it has been opened once)"
        ),
        ClientError::Store(StoreError::WrongKey) => anyhow::anyhow!("wrong passphrase for this profile"),
        ClientError::Store(error @ StoreError::Corrupt(_)) => anyhow::Error::new(error).context(
            "the profile's database is damaged; restore it from a backup (a new profile would be a new identity)",
        ),
        other => other.into(),
    }
}

/// The relay address of the profile in `dir`.
pub fn relay(dir: &Path) -> Result<RelayAddress> {
    require_database(dir)?;
    let relay = std::fs::read_to_string(dir.join(RELAY_FILE))
        .with_context(|| format!("cannot read {}", dir.join(RELAY_FILE).display()))?;
    relay
        .trim()
        .parse()
        .context("the profile's relay address is invalid (fix it with `hush relay set ADDRESS`)")
}

/// Points the profile in `dir` at another relay; nothing else of it changes.
pub fn set_relay(dir: &Path, relay: &RelayAddress) -> Result<()> {
    require_database(dir)?;
    // Written beside and moved into place, so a crash leaves the old address or the new one.
    let temporary = dir.join(format!("{RELAY_FILE}.tmp"));
    write_private(&temporary, relay.to_string().as_bytes())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, dir.join(RELAY_FILE))
        .with_context(|| format!("cannot replace {}", dir.join(RELAY_FILE).display()))?;
    Ok(())
}

fn require_database(dir: &Path) -> Result<()> {
    database(dir).map(drop)
}

/// The database file of the profile in `dir`, which must exist.
pub fn database(dir: &Path) -> Result<PathBuf> {
    let database = dir.join(DATABASE);
    if !database.exists() {
        bail!(
            "no profile in {} (run `hush init --relay <address>` first)",
            dir.display()
        );
    }
    Ok(database)
}

/// Refuses to create a profile over an existing one.
pub fn refuse_existing(dir: &Path) -> Result<()> {
    if dir.join(DATABASE).exists() {
        bail!("a profile already exists in {}", dir.display());
    }
    Ok(())
}

impl Profile {
    pub async fn create(dir: &Path, relay: RelayAddress) -> Result<Self> {
        Self::create_as(dir, relay, false).await
    }

    /// [`Profile::create`] for a new device that is to join an existing account.
    pub async fn create_joining(dir: &Path, relay: RelayAddress) -> Result<Self> {
        Self::create_as(dir, relay, true).await
    }

    async fn create_as(dir: &Path, relay: RelayAddress, joining: bool) -> Result<Self> {
        refuse_existing(dir)?;
        // Asked before anything is created: two differing entries leave nothing behind.
        let passphrase = passphrase(true)?;
        create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_private(&dir.join(RELAY_FILE), relay.to_string().as_bytes())
            .with_context(|| format!("cannot write {}", dir.join(RELAY_FILE).display()))?;
        // A salt file without its database is what an init that crashed before creating the
        // database leaves; it belongs to no profile, and its key check would hold this new
        // profile to that attempt's passphrase.
        let salt = DatabaseKey::salt_path(&dir.join(DATABASE));
        for leftover in [salt.clone(), salt.with_extension("salt.new")] {
            match std::fs::remove_file(&leftover) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(error).with_context(|| format!("cannot remove {}", leftover.display()));
                }
                _ => {}
            }
        }
        let key = key(dir, &passphrase)?;
        let opened = if joining {
            Client::open_joining(dir.join(DATABASE), &key, relay.clone()).await
        } else {
            Client::open(dir.join(DATABASE), &key, relay.clone()).await
        };
        let (client, events) = opened.map_err(|error| explain(error, &key))?;
        Ok(Self {
            client,
            events,
            relay,
        })
    }

    /// A new profile in `dir` restored from the backup `file` (`hush backup import`): asks the
    /// backup's passphrase, then the new profile's (twice at a terminal).
    pub async fn restore(dir: &Path, relay: &RelayAddress, file: &Path) -> Result<()> {
        refuse_existing(dir)?;
        let backup_passphrase = ask_secret("HUSH_BACKUP_PASSPHRASE", "backup passphrase", false)?;
        let passphrase = passphrase(true)?;
        create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let key = key(dir, &passphrase)?;
        let restored = Client::restore_backup(file, &backup_passphrase, dir.join(DATABASE), &key).await;
        if let Err(error) = restored {
            // Nothing of the profile is left: the database is not there, the salt goes too.
            let _ = std::fs::remove_file(DatabaseKey::salt_path(&dir.join(DATABASE)));
            return Err(anyhow::Error::new(error).context(format!("cannot restore {}", file.display())));
        }
        write_private(&dir.join(RELAY_FILE), relay.to_string().as_bytes())
            .with_context(|| format!("cannot write {}", dir.join(RELAY_FILE).display()))
    }

    pub async fn open(dir: &Path) -> Result<Self> {
        let database: PathBuf = dir.join(DATABASE);
        let relay = relay(dir)?;
        let key = key(dir, &passphrase(false)?)?;
        let (client, events) = Client::open_existing(&database, &key, relay.clone())
            .await
            .map_err(|error| explain(error, &key))?;
        Ok(Self {
            client,
            events,
            relay,
        })
    }

    /// A contact name or an address.
    pub async fn resolve(&self, who: &str) -> Result<Address> {
        if who.starts_with(hush_client::ADDRESS_PREFIX) {
            return who.parse().context("that is not a Hush address");
        }
        match self.client.contact(who).await {
            Ok(contact) => Ok(contact.address),
            Err(ClientError::UnknownContact(_)) => {
                bail!("no contact named {who:?} (add one with `hush contact add {who} <address>`)")
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The contact name for `address`, or the address if it has none. A failure to read the
    /// address book is an error, not the address: a damaged database must not pass for a list
    /// of strangers.
    pub async fn display_name(&self, address: &Address) -> Result<String> {
        let name = self
            .client
            .name_of(address)
            .await
            .context("cannot read the contacts of this profile")?;
        Ok(name.unwrap_or_else(|| address.to_string()))
    }

    /// Takes events until none comes for `quiet` (what arrives right after login has arrived);
    /// fails if the client stopped meanwhile (a database write failed, say).
    pub async fn wait_quiet(&mut self, quiet: std::time::Duration) -> Result<()> {
        while let Ok(Some(event)) = tokio::time::timeout(quiet, self.events.next()).await {
            if let hush_client::ClientEvent::Stopped(reason) = event {
                bail!("the client stopped: {reason}");
            }
        }
        Ok(())
    }

    /// Takes events until `pick` returns something, the connection attempt fails, the client
    /// stops or `wait` passes; the last three are the error's text.
    pub async fn wait_for<T>(
        &mut self,
        wait: std::time::Duration,
        mut pick: impl FnMut(hush_client::ClientEvent) -> Option<T>,
    ) -> Result<T, String> {
        use hush_client::{ClientEvent, ConnectionState};
        tokio::time::timeout(wait, async {
            while let Some(event) = self.events.next().await {
                match event {
                    ClientEvent::Connection(ConnectionState::Offline { reason, .. }) => return Err(reason),
                    ClientEvent::Stopped(reason) => return Err(format!("stopped: {reason}")),
                    event => {
                        if let Some(found) = pick(event) {
                            return Ok(found);
                        }
                    }
                }
            }
            Err("the client stopped".to_owned())
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", wait.as_secs())))
    }
}
