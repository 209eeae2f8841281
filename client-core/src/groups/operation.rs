//! What a group update changes.

use std::collections::{BTreeMap, BTreeSet};

use hush_crypto::devices::AccountKey;

use super::Role;

/// What an update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupOperation {
    /// Makes the group: version 1, the author among the members as an admin.
    Create {
        /// The group's name.
        name: String,
        /// The group's description.
        description: Option<String>,
        /// The first members and their roles.
        members: BTreeMap<AccountKey, Role>,
    },
    /// Adds members (admins only).
    Add {
        /// The new members and their roles.
        members: BTreeMap<AccountKey, Role>,
    },
    /// Removes members other than the author (admins only).
    Remove {
        /// The members removed.
        accounts: BTreeSet<AccountKey>,
    },
    /// The author's account leaves.
    Leave,
    /// Sets the name and description (admins only).
    Rename {
        /// The new name.
        name: String,
        /// The new description.
        description: Option<String>,
    },
    /// Changes a member's role (admins only).
    SetRole {
        /// The member.
        account: AccountKey,
        /// Its new role.
        role: Role,
    },
}

impl GroupOperation {
    /// The operation's name in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Add { .. } => "add",
            Self::Remove { .. } => "remove",
            Self::Leave => "leave",
            Self::Rename { .. } => "rename",
            Self::SetRole { .. } => "set-role",
        }
    }

    /// Whether the operation can take an admin's rights away (a removal, a leave, a role
    /// change). Among updates made at one version these are ordered first, so an admin's
    /// removal applies before that admin's concurrent updates, which are then refused.
    pub(super) fn demotes(&self) -> bool {
        matches!(self, Self::Remove { .. } | Self::Leave | Self::SetRole { .. })
    }
}
