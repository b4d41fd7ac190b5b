//! A person's grants kept in memory by the version the database gives them.
//!
//! Loading what a person may do takes four queries (roles, teaching assignments, children, own
//! student record), and every request needs it. The database moves `users.grants_version` on
//! in the same transaction as any change to those rows (triggers, so no code path can forget),
//! and the session check reads the version in the query it makes anyway
//! ([`persistence::auth::session_grants_version`]). Grants kept under an older version are
//! never used: a role taken away, in this process or another one, counts at the next request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use domain::UserId;
use domain::access::Principal;

/// How many people's grants a process keeps before it starts afresh (a school of 2,000
/// students has about 4,500 accounts; a region's server keeps its busiest).
const CAPACITY: usize = 100_000;

/// Grants by person, each with the version it was loaded under.
#[derive(Debug, Default)]
pub struct GrantsCache {
    entries: Mutex<HashMap<UserId, (i64, Principal)>>,
}

impl GrantsCache {
    /// The person's grants loaded under `version`, if they are kept.
    #[must_use]
    pub fn get(&self, user: UserId, version: i64) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&user)
            .filter(|(kept, _)| *kept == version)
            .map(|(_, principal)| principal.clone())
    }

    /// Keeps the grants loaded after reading `version` (they are at least that new).
    pub fn keep(&self, user: UserId, version: i64, principal: &Principal) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY && !entries.contains_key(&user) {
            entries.clear();
        }
        entries.insert(user, (version, principal.clone()));
    }
}

#[cfg(test)]
mod tests {
    use domain::StudentId;
    use domain::access::Grant;

    use super::*;

    fn parent_of(child: i64) -> Principal {
        Principal::person(
            UserId(7),
            vec![Grant::Parent {
                children: vec![StudentId(child)],
            }],
        )
    }

    #[test]
    fn kept_grants_serve_only_their_own_version() {
        let cache = GrantsCache::default();
        assert_eq!(cache.get(UserId(7), 3), None);
        cache.keep(UserId(7), 3, &parent_of(1));
        assert_eq!(cache.get(UserId(7), 3), Some(parent_of(1)));
        assert_eq!(
            cache.get(UserId(7), 4),
            None,
            "a newer version is loaded afresh"
        );
        assert_eq!(cache.get(UserId(8), 3), None, "another person's grants");
        cache.keep(UserId(7), 4, &parent_of(2));
        assert_eq!(cache.get(UserId(7), 3), None, "the older version is gone");
        assert_eq!(cache.get(UserId(7), 4), Some(parent_of(2)));
    }
}
