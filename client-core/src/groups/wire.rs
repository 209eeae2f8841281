//! The byte layout of a group update (proto/PROTOCOL.md, "Group updates"): lengths checked
//! before allocating, lists in strictly ascending order, no trailing bytes, so each update has
//! exactly one encoding.

use std::collections::{BTreeMap, BTreeSet};

use hush_crypto::IdentityKey;
use hush_crypto::devices::AccountKey;

use super::operation::GroupOperation;
use super::{
    GroupId, GroupUpdateError, MAX_GROUP_DESCRIPTION_LEN, MAX_GROUP_MEMBERS, MAX_GROUP_NAME_LEN, Role,
};

/// Format byte of a group update.
pub const GROUP_UPDATE_FORMAT: u8 = 1;
/// Kind byte of a group update (after the format byte).
pub const KIND_GROUP_UPDATE: u8 = 0x47;

pub(super) const SIGNATURE_LEN: usize = 64;

const OP_CREATE: u8 = 1;
const OP_ADD: u8 = 2;
const OP_REMOVE: u8 = 3;
const OP_LEAVE: u8 = 4;
const OP_RENAME: u8 = 5;
const OP_SET_ROLE: u8 = 6;

/// Everything of an update but its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UpdateBody {
    pub(super) group_id: GroupId,
    pub(super) version: u64,
    pub(super) author_account: AccountKey,
    pub(super) author_device: IdentityKey,
    pub(super) operation: GroupOperation,
}

impl UpdateBody {
    /// The bytes the signature covers. Refuses what the decoder would refuse, so whatever is
    /// signed decodes.
    pub(super) fn encode(&self) -> Result<Vec<u8>, GroupUpdateError> {
        check_version(self.version, &self.operation)?;
        let mut out = vec![GROUP_UPDATE_FORMAT, KIND_GROUP_UPDATE];
        out.extend_from_slice(&self.group_id.0);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(self.author_account.as_bytes());
        out.extend_from_slice(self.author_device.as_bytes());
        match &self.operation {
            GroupOperation::Create {
                name,
                description,
                members,
            } => {
                out.push(OP_CREATE);
                put_texts(&mut out, name, description.as_deref())?;
                put_members(&mut out, members)?;
            }
            GroupOperation::Add { members } => {
                out.push(OP_ADD);
                put_members(&mut out, members)?;
            }
            GroupOperation::Remove { accounts } => {
                out.push(OP_REMOVE);
                put_count(&mut out, "accounts", accounts.len())?;
                for account in accounts {
                    out.extend_from_slice(account.as_bytes());
                }
            }
            GroupOperation::Leave => out.push(OP_LEAVE),
            GroupOperation::Rename { name, description } => {
                out.push(OP_RENAME);
                put_texts(&mut out, name, description.as_deref())?;
            }
            GroupOperation::SetRole { account, role } => {
                out.push(OP_SET_ROLE);
                out.extend_from_slice(account.as_bytes());
                out.push(role.byte());
            }
        }
        Ok(out)
    }

    /// Decodes an update: the body and the signature.
    pub(super) fn decode(bytes: &[u8]) -> Result<(Self, [u8; SIGNATURE_LEN]), GroupUpdateError> {
        let mut reader = Reader(bytes);
        let format = reader.u8("format")?;
        if format != GROUP_UPDATE_FORMAT {
            return Err(GroupUpdateError::UnsupportedVersion {
                expected: GROUP_UPDATE_FORMAT,
                found: format,
            });
        }
        let kind = reader.u8("kind")?;
        if kind != KIND_GROUP_UPDATE {
            return Err(GroupUpdateError::UnexpectedKind {
                expected: KIND_GROUP_UPDATE,
                found: kind,
            });
        }
        let group_id = GroupId(reader.array("group_id")?);
        let version = u64::from_be_bytes(reader.array("version")?);
        let author_account = reader.account("author_account")?;
        let author_device = IdentityKey::from_bytes(&reader.array("author_device")?).map_err(|source| {
            GroupUpdateError::InvalidKey {
                field: "author_device",
                source,
            }
        })?;
        let operation = match reader.u8("operation")? {
            OP_CREATE => {
                let (name, description) = reader.texts()?;
                GroupOperation::Create {
                    name,
                    description,
                    members: reader.members()?,
                }
            }
            OP_ADD => GroupOperation::Add {
                members: reader.members()?,
            },
            OP_REMOVE => {
                let count = reader.count("accounts")?;
                let mut accounts = BTreeSet::new();
                for _ in 0..count {
                    let account = reader.account("accounts")?;
                    if accounts.last().is_some_and(|last| *last >= account) {
                        return Err(GroupUpdateError::OutOfOrder { field: "accounts" });
                    }
                    accounts.insert(account);
                }
                GroupOperation::Remove { accounts }
            }
            OP_LEAVE => GroupOperation::Leave,
            OP_RENAME => {
                let (name, description) = reader.texts()?;
                GroupOperation::Rename { name, description }
            }
            OP_SET_ROLE => GroupOperation::SetRole {
                account: reader.account("account")?,
                role: Role::from_byte(reader.u8("role")?)?,
            },
            other => return Err(GroupUpdateError::UnknownOperation(other)),
        };
        let signature = reader.array("signature")?;
        if !reader.0.is_empty() {
            return Err(GroupUpdateError::TrailingBytes {
                count: reader.0.len(),
            });
        }
        check_version(version, &operation)?;
        let body = Self {
            group_id,
            version,
            author_account,
            author_device,
            operation,
        };
        Ok((body, signature))
    }
}

/// Version 1 is the creation and only the creation.
fn check_version(version: u64, operation: &GroupOperation) -> Result<(), GroupUpdateError> {
    let is_create = matches!(operation, GroupOperation::Create { .. });
    if (version == 1) == is_create && version != 0 {
        Ok(())
    } else {
        Err(GroupUpdateError::BadVersion {
            version,
            operation: operation.name(),
        })
    }
}

/// A member or account list has `1 ..= MAX_GROUP_MEMBERS` entries.
fn check_count(field: &'static str, count: usize) -> Result<usize, GroupUpdateError> {
    if count == 0 {
        return Err(GroupUpdateError::Empty { field });
    }
    if count > MAX_GROUP_MEMBERS {
        return Err(GroupUpdateError::TooLong {
            field,
            length: count,
            max: MAX_GROUP_MEMBERS,
        });
    }
    Ok(count)
}

fn put_count(out: &mut Vec<u8>, field: &'static str, count: usize) -> Result<(), GroupUpdateError> {
    check_count(field, count)?;
    // At most MAX_GROUP_MEMBERS, so it fits a u16.
    out.extend_from_slice(&u16::try_from(count).unwrap_or(u16::MAX).to_be_bytes());
    Ok(())
}

fn put_members(out: &mut Vec<u8>, members: &BTreeMap<AccountKey, Role>) -> Result<(), GroupUpdateError> {
    put_count(out, "members", members.len())?;
    for (account, role) in members {
        out.extend_from_slice(account.as_bytes());
        out.push(role.byte());
    }
    Ok(())
}

fn put_text(out: &mut Vec<u8>, field: &'static str, text: &str, max: usize) -> Result<(), GroupUpdateError> {
    if text.len() > max {
        return Err(GroupUpdateError::TooLong {
            field,
            length: text.len(),
            max,
        });
    }
    // Both limits are below u16::MAX.
    out.extend_from_slice(&u16::try_from(text.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn put_texts(out: &mut Vec<u8>, name: &str, description: Option<&str>) -> Result<(), GroupUpdateError> {
    if name.is_empty() {
        return Err(GroupUpdateError::Empty { field: "name" });
    }
    put_text(out, "name", name, MAX_GROUP_NAME_LEN)?;
    match description {
        None => out.push(0),
        Some(text) => {
            out.push(1);
            put_text(out, "description", text, MAX_GROUP_DESCRIPTION_LEN)?;
        }
    }
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], GroupUpdateError> {
        if self.0.len() < len {
            return Err(GroupUpdateError::Truncated {
                field,
                needed: len,
                available: self.0.len(),
            });
        }
        let (head, tail) = self.0.split_at(len);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], GroupUpdateError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, GroupUpdateError> {
        let [byte] = self.array(field)?;
        Ok(byte)
    }

    fn u16(&mut self, field: &'static str) -> Result<usize, GroupUpdateError> {
        Ok(usize::from(u16::from_be_bytes(self.array(field)?)))
    }

    fn account(&mut self, field: &'static str) -> Result<AccountKey, GroupUpdateError> {
        AccountKey::from_bytes(&self.array(field)?)
            .map_err(|source| GroupUpdateError::InvalidKey { field, source })
    }

    /// A member or account count: 1 ..= MAX_GROUP_MEMBERS.
    fn count(&mut self, field: &'static str) -> Result<usize, GroupUpdateError> {
        check_count(field, self.u16(field)?)
    }

    fn members(&mut self) -> Result<BTreeMap<AccountKey, Role>, GroupUpdateError> {
        let count = self.count("members")?;
        let mut members = BTreeMap::new();
        for _ in 0..count {
            let account = self.account("members")?;
            let role = Role::from_byte(self.u8("role")?)?;
            if members.last_key_value().is_some_and(|(last, _)| *last >= account) {
                return Err(GroupUpdateError::OutOfOrder { field: "members" });
            }
            members.insert(account, role);
        }
        Ok(members)
    }

    fn text(&mut self, field: &'static str, max: usize) -> Result<String, GroupUpdateError> {
        let length = self.u16(field)?;
        if length > max {
            return Err(GroupUpdateError::TooLong { field, length, max });
        }
        let bytes = self.take(field, length)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GroupUpdateError::NotUtf8 { field })
    }

    fn texts(&mut self) -> Result<(String, Option<String>), GroupUpdateError> {
        let name = self.text("name", MAX_GROUP_NAME_LEN)?;
        if name.is_empty() {
            return Err(GroupUpdateError::Empty { field: "name" });
        }
        let description = match self.u8("description")? {
            0 => None,
            1 => Some(self.text("description", MAX_GROUP_DESCRIPTION_LEN)?),
            value => {
                return Err(GroupUpdateError::InvalidFlag {
                    field: "description",
                    value,
                });
            }
        };
        Ok((name, description))
    }
}
