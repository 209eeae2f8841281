//! What the group mode sends: real client group work (a sender-key message sealed for the
//! members' identity keys) or, with `--filler`, opaque bytes of the sizes that work gives.

use anyhow::{Context, bail, ensure};
use hush_crypto::group::{GROUP_ID_LEN, GroupChains, GroupSender, SenderKeyMessage};
use hush_crypto::sealed::{SealKeys, seal_shared, seal_with};
use hush_crypto::{Account, IdentityKey};

/// One message, made by [`Content::begin`]: what every copy carries.
pub(super) struct Message {
    /// The group ciphertext (a sender-key message), or the filler body.
    pub(super) inner: Vec<u8>,
    /// What the members read once they open and decrypt it.
    plaintext: Vec<u8>,
}

/// How a member got a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// One `SendShared`: the body once, a part per member.
    Shared = 0,
    /// One `Send` per member, each its own sealed envelope.
    Naive = 1,
}

/// A member that opens and decrypts what it gets, as its client would.
struct Checker {
    index: usize,
    account: Account,
    chains: GroupChains,
}

/// The real client work: the sender's account and sending chain, every member's identity key.
pub(super) struct Real {
    sender: Account,
    chain: GroupSender,
    seal_keys: SealKeys,
    members: Vec<IdentityKey>,
    checkers: Vec<Checker>,
    plaintext_len: usize,
}

/// What each message is made of.
pub(super) enum Content {
    /// Real group crypto.
    Real(Box<Real>),
    /// Opaque bodies and parts of the given sizes (the relay-level mode).
    Filler { message_len: usize, part_len: usize },
}

impl Content {
    /// The real group of `sender` and `members` (their accounts, in member order): every
    /// `open_every`-th member holds the sender's distribution (as if it came over their pairwise
    /// session) and opens and decrypts what it gets.
    pub(super) fn real(
        sender: Account,
        members: Vec<Account>,
        plaintext_len: usize,
        open_every: usize,
    ) -> anyhow::Result<Self> {
        ensure!(
            plaintext_len <= hush_crypto::MAX_PLAINTEXT_LEN,
            "--message-len is over a group message's {} bytes",
            hush_crypto::MAX_PLAINTEXT_LEN
        );
        let mut rng = rand::rng();
        let group_id: [u8; GROUP_ID_LEN] = rand::random();
        let chain = GroupSender::new(group_id, sender.identity_key(), 0, &mut rng);
        let distribution = chain.distribution();
        let keys = members.iter().map(Account::identity_key).collect();
        let mut checkers = Vec::new();
        for (index, account) in members.into_iter().enumerate() {
            if index % open_every.max(1) == 0 {
                let mut chains = GroupChains::new(group_id);
                chains.add_distribution(&distribution, &sender.identity_key())?;
                checkers.push(Checker {
                    index,
                    account,
                    chains,
                });
            }
        }
        Ok(Self::Real(Box::new(Real {
            sender,
            chain,
            seal_keys: SealKeys::new(),
            members: keys,
            checkers,
            plaintext_len,
        })))
    }

    /// What the run's header line says of the content.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Real(real) => format!(
                "real client work: a {}-byte plaintext encrypted once on a sender chain, then \
                 seal_shared to every member's identity key (shared) or sealed sender per member \
                 (naive); {} members open and decrypt every message",
                real.plaintext_len,
                real.checkers.len()
            ),
            Self::Filler {
                message_len,
                part_len,
            } => format!("filler (no client crypto): body {message_len} bytes, part {part_len} bytes"),
        }
    }

    /// Whether member `index` opens what it gets (its envelopes go to [`Content::check`]).
    pub(super) fn opens(&self, index: usize) -> bool {
        match self {
            Self::Real(real) => real.checkers.iter().any(|checker| checker.index == index),
            Self::Filler { .. } => false,
        }
    }

    /// Starts message `id`: the real kind encrypts it once on the sender's chain.
    pub(super) fn begin(&mut self, id: u32) -> anyhow::Result<Message> {
        match self {
            Self::Real(real) => {
                let mut plaintext = id.to_be_bytes().to_vec();
                plaintext.resize(real.plaintext_len.max(4), 0x6D);
                let inner = real.chain.encrypt(&plaintext, &mut rand::rng())?.to_bytes();
                Ok(Message { inner, plaintext })
            }
            Self::Filler { message_len, .. } => {
                let mut body = id.to_be_bytes().to_vec();
                body.resize((*message_len).max(4), 0x6D);
                Ok(Message {
                    plaintext: body.clone(),
                    inner: body,
                })
            }
        }
    }

    /// The shared body and one part per member, in member order.
    pub(super) fn seal_shared(
        &mut self,
        message: &Message,
        members: usize,
    ) -> anyhow::Result<(Vec<u8>, Vec<Vec<u8>>)> {
        match self {
            Self::Real(real) => {
                let seal = seal_shared(&real.members, &message.inner, &mut rand::rng())?;
                Ok((seal.body, seal.parts))
            }
            Self::Filler { part_len, .. } => {
                Ok((message.inner.clone(), vec![vec![0x50; *part_len]; members]))
            }
        }
    }

    /// Member `index`'s own envelope of `message` (the naive kind).
    pub(super) fn seal_for(&mut self, message: &Message, index: usize) -> anyhow::Result<Vec<u8>> {
        match self {
            Self::Real(real) => {
                let member = real.members.get(index).context("no such member")?;
                Ok(seal_with(
                    &real.sender,
                    &mut real.seal_keys,
                    member,
                    &message.inner,
                    &mut rand::rng(),
                )?)
            }
            Self::Filler { part_len, .. } => {
                let mut envelope = message.inner.clone();
                envelope.resize(message.inner.len() + *part_len, 0x50);
                Ok(envelope)
            }
        }
    }

    /// The opening members' checks of what they got of `message` (`got`: member index and its
    /// part and body (shared) or its envelope (naive)): each opens it with its identity key,
    /// finds the sender-key message sent, and decrypts it on the sender's chain to the
    /// plaintext. Returns how many opened.
    pub(super) fn check(&mut self, message: &Message, kind: Kind, got: &[Got]) -> anyhow::Result<usize> {
        let Self::Real(real) = self else {
            return Ok(0);
        };
        ensure!(
            got.len() == real.checkers.len(),
            "{} of {} opening members got the message",
            got.len(),
            real.checkers.len()
        );
        for got in got {
            let checker = real
                .checkers
                .iter_mut()
                .find(|checker| checker.index == got.index)
                .context("an envelope for a member that does not open")?;
            let index = got.index;
            let inner = match (kind, got.part.as_deref()) {
                (Kind::Shared, Some(part)) => checker
                    .account
                    .open_shared(part, &got.body)
                    .with_context(|| format!("member {index} opening its shared part"))?,
                (Kind::Naive, None) => {
                    let opened = checker
                        .account
                        .open_sealed(&got.body)
                        .with_context(|| format!("member {index} opening its sealed envelope"))?;
                    ensure!(
                        opened.sender == real.sender.identity_key(),
                        "member {index}: the sealed envelope names another sender"
                    );
                    opened.inner
                }
                _ => bail!("member {index} got a {kind:?} message in the wrong form"),
            };
            ensure!(
                inner == message.inner,
                "member {index} opened another sender-key message than the one sent"
            );
            let decoded = SenderKeyMessage::from_bytes(&inner)?;
            let plain = checker
                .chains
                .decrypt(&decoded)
                .with_context(|| format!("member {index} decrypting the group message"))?;
            ensure!(
                plain.plaintext == message.plaintext && plain.sender == real.sender.identity_key(),
                "member {index} decrypted another plaintext or sender"
            );
        }
        Ok(got.len())
    }
}

/// What an opening member got: its part and the body (shared), or its envelope in `body`
/// (naive).
pub(super) struct Got {
    pub(super) index: usize,
    pub(super) part: Option<Vec<u8>>,
    pub(super) body: Vec<u8>,
}
