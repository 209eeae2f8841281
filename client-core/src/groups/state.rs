//! The rules of each operation: who may make it and what it does to a group state.

use super::operation::GroupOperation;
use super::update::GroupUpdate;
use super::{GroupRuleError, GroupState, GroupUpdateError, MAX_GROUP_MEMBERS, Role};

impl GroupState {
    /// The state a creation makes (version 1). The author must be one of its admins.
    pub(super) fn created(update: &GroupUpdate) -> Result<Self, GroupUpdateError> {
        let GroupOperation::Create {
            name,
            description,
            members,
        } = update.operation()
        else {
            return Err(GroupUpdateError::NotACreation);
        };
        if members.get(&update.author_account()) != Some(&Role::Admin) {
            return Err(GroupUpdateError::CreatorNotAdmin);
        }
        Ok(Self {
            id: update.group_id(),
            name: name.clone(),
            description: description.clone(),
            members: members.clone(),
            version: 1,
        })
    }

    /// The state after `update`, one version on; refused if its author may not make it here.
    pub(super) fn apply(&self, update: &GroupUpdate) -> Result<Self, GroupRuleError> {
        let author = update.author_account();
        let author_role = self.role(&author).ok_or(GroupRuleError::AuthorNotMember)?;
        let need_admin = || {
            if author_role == Role::Admin {
                Ok(())
            } else {
                Err(GroupRuleError::AuthorNotAdmin)
            }
        };
        let mut next = self.clone();
        next.version = self.version.saturating_add(1);
        match update.operation() {
            // The log takes one creation, as its root; a second one changes nothing.
            GroupOperation::Create { .. } => return Err(GroupRuleError::SecondCreation),
            GroupOperation::Add { members } => {
                need_admin()?;
                if members.keys().any(|account| self.members.contains_key(account)) {
                    return Err(GroupRuleError::AlreadyMember);
                }
                let count = self.members.len() + members.len();
                if count > MAX_GROUP_MEMBERS {
                    return Err(GroupRuleError::TooManyMembers {
                        count,
                        max: MAX_GROUP_MEMBERS,
                    });
                }
                next.members
                    .extend(members.iter().map(|(account, role)| (*account, *role)));
            }
            GroupOperation::Remove { accounts } => {
                need_admin()?;
                if accounts.contains(&author) {
                    return Err(GroupRuleError::RemovesAuthor);
                }
                for account in accounts {
                    next.members.remove(account).ok_or(GroupRuleError::NotMember)?;
                }
            }
            GroupOperation::Leave => {
                next.members.remove(&author);
            }
            GroupOperation::Rename { name, description } => {
                need_admin()?;
                next.name.clone_from(name);
                next.description.clone_from(description);
            }
            GroupOperation::SetRole { account, role } => {
                need_admin()?;
                let current = next.members.get_mut(account).ok_or(GroupRuleError::NotMember)?;
                if current == role {
                    return Err(GroupRuleError::RoleUnchanged);
                }
                *current = *role;
            }
        }
        if !next.members.is_empty() && !next.members.values().any(|role| *role == Role::Admin) {
            return Err(GroupRuleError::NoAdminLeft);
        }
        Ok(next)
    }
}
