//! Every [`Store`](crate::Store) runs these, so all backends mean the same thing by each
//! [`StoreOp`](crate::StoreOp) and query.
//!
//! A backend's tests invoke [`store_suite!`](crate::store_suite!) with an expression that makes
//! a fresh, empty store as a `(store, guard)` pair; the guard (a temp dir, or `()`) lives as long
//! as the test. One `#[test]` is generated per suite function:
//!
//! ```ignore
//! hush_client_core::store_suite!((hush_client_core::MemoryStore::new(), ()));
//! ```
//!
//! A durable backend also calls
//! [`reopen_keeps_everything`](crate::store_suite::reopen_keeps_everything) with a function that
//! closes the store and opens it again.
// Test support: a failed step is a failed test, and its message says which step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod account;
mod commits;
mod devices;
mod group_receipts;
mod helpers;
mod messages;
mod peers;
mod queries;
mod queues;
mod surface;

pub use account::{
    access_keys_and_standings_are_put_and_replaced, account_round_trips_and_is_replaced,
    empty_store_loads_nothing,
};
pub use commits::{
    empty_commit_changes_nothing, failed_commit_leaves_nothing, ops_in_a_commit_apply_in_order,
    reopen_keeps_everything,
};
pub use devices::{
    link_request_is_put_replaced_and_deleted, own_account_is_put_and_replaced,
    peer_devices_are_put_and_replaced,
};
pub use group_receipts::group_receipts_move_forward_only_for_recipients;
pub use messages::{
    insert_message_ignores_a_second_insert_of_an_id, messages_round_trip_every_field,
    status_ignores_unknown_ids_and_other_peers, status_moves_only_forward,
};
pub use peers::{
    contacts_are_put_replaced_and_removed_by_name, peers_are_listed_most_recent_first,
    put_peer_replaces_per_remote_identity,
};
pub use queries::{
    history_pages_backwards_oldest_first, snapshot_lists_unconfirmed_and_recent_incoming,
    unread_lists_incoming_messages_not_yet_seen,
};
pub use queues::{
    conversations_are_replaced_per_peer, held_messages_are_put_replaced_and_removed,
    outbox_items_are_put_replaced_and_removed,
};
pub use surface::{
    deletes_leave_a_tombstone_only, edits_replace_text_and_keep_a_history, reactions_are_a_set_per_message,
    threads_page_backwards,
};

/// Generates one `#[test]` per suite function, each on a fresh store from `$make`, an
/// expression giving `(store, guard)`.
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!(@tests $make;
            empty_store_loads_nothing,
            account_round_trips_and_is_replaced,
            put_peer_replaces_per_remote_identity,
            conversations_are_replaced_per_peer,
            outbox_items_are_put_replaced_and_removed,
            held_messages_are_put_replaced_and_removed,
            insert_message_ignores_a_second_insert_of_an_id,
            messages_round_trip_every_field,
            status_moves_only_forward,
            status_ignores_unknown_ids_and_other_peers,
            history_pages_backwards_oldest_first,
            unread_lists_incoming_messages_not_yet_seen,
            snapshot_lists_unconfirmed_and_recent_incoming,
            contacts_are_put_replaced_and_removed_by_name,
            peers_are_listed_most_recent_first,
            ops_in_a_commit_apply_in_order,
            empty_commit_changes_nothing,
            failed_commit_leaves_nothing,
            access_keys_and_standings_are_put_and_replaced,
            own_account_is_put_and_replaced,
            link_request_is_put_replaced_and_deleted,
            peer_devices_are_put_and_replaced,
            edits_replace_text_and_keep_a_history,
            deletes_leave_a_tombstone_only,
            reactions_are_a_set_per_message,
            threads_page_backwards,
            group_receipts_move_forward_only_for_recipients,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (store, _guard) = $make;
                $crate::store_suite::$name(store);
            }
        )*
    };
}
