//! Local full-text search over the history (schema version 6), inside the encrypted database.
//!
//! An FTS5 table indexes the newest text of every text, reply and thread message (kinds 1, 5
//! and 6) under its history position. It is contentless (`content=''`: the text is not stored a
//! second time; snippets are cut from the message row) with `contentless_delete=1`, so a row can
//! be removed by position, and FTS5's `secure-delete` option on, so a removed row's terms are
//! taken out of the index pages at once rather than masked by a delete marker (the connection's
//! `secure_delete` then overwrites the freed bytes). Triggers on `messages` keep it in step:
//! an insert indexes, an edit (new `body`) re-indexes, a delete for everyone or an expiry
//! (tombstone, kind 4) removes.
//!
//! A query is the user's words, each quoted as an FTS5 string (so no word is FTS5 syntax), all
//! required; a word ending in `*` matches as a prefix. Results are newest first, paged by
//! position like the history.

use hush_client_core::{Address, HistoryEntry};
use rusqlite::Connection;
use thiserror::Error;

use super::StoreError;
use super::codec::{self, MESSAGE_COLUMNS, saturating};

/// The text a `messages` row indexes: the body for text (kind 1), after the 16-byte target for
/// replies and thread messages (kinds 5, 6). `{row}` is `new` or `old` in a trigger.
macro_rules! indexed_text {
    ($row:literal) => {
        concat!(
            "CAST(CASE ",
            $row,
            ".kind WHEN 1 THEN ",
            $row,
            ".body ELSE substr(",
            $row,
            ".body, 17) END AS TEXT)"
        )
    };
}

/// Schema version 6: the search index (filled from the existing history), and the columns and
/// table of disappearing messages (`expiry`).
pub(super) const MIGRATION: &str = concat!(
    "CREATE VIRTUAL TABLE message_search USING fts5(
        text, content = '', tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO message_search (message_search, rank) VALUES ('secure-delete', 1);
    CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.kind IN (1, 5, 6) BEGIN
        INSERT INTO message_search (rowid, text) VALUES (new.position, ",
    indexed_text!("new"),
    ");
    END;
    CREATE TRIGGER message_search_update AFTER UPDATE OF kind, body ON messages BEGIN
        INSERT INTO message_search (message_search, rowid, text) SELECT 'delete', old.position, ",
    indexed_text!("old"),
    " WHERE old.kind IN (1, 5, 6);
        INSERT INTO message_search (rowid, text) SELECT new.position, ",
    indexed_text!("new"),
    " WHERE new.kind IN (1, 5, 6);
    END;
    CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN old.kind IN (1, 5, 6) BEGIN
        INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.position, ",
    indexed_text!("old"),
    ");
    END;
    CREATE TRIGGER messages_expiry AFTER INSERT ON messages WHEN new.kind != 7 BEGIN
        UPDATE messages SET expires_at = min(
            new.stored_at + 1000 * (SELECT seconds FROM timers WHERE peer = new.peer),
            9223372036854775807
        ) WHERE position = new.position AND EXISTS (SELECT 1 FROM timers WHERE peer = new.peer);
    END;
    INSERT INTO message_search (rowid, text) SELECT position, ",
    indexed_text!("messages"),
    " FROM messages WHERE kind IN (1, 5, 6);
    -- Disappearing messages: when a row expires (our clock, Unix ms), and each conversation's
    -- timer in seconds (no row: off).
    ALTER TABLE messages ADD COLUMN expires_at INTEGER;
    CREATE INDEX messages_expiring ON messages (expires_at) WHERE expires_at IS NOT NULL AND kind != 4;
    CREATE TABLE timers (
        peer BLOB PRIMARY KEY NOT NULL,
        seconds INTEGER NOT NULL
    ) WITHOUT ROWID;"
);

/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 256;
/// Most words in a query.
pub const MAX_QUERY_WORDS: usize = 16;
/// Most results one page holds.
pub const MAX_PAGE: usize = 200;
/// Words of context a snippet keeps on each side of the first match.
const SNIPPET_CONTEXT: usize = 6;

/// Which conversations a search looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// Every conversation.
    All,
    /// The conversation with this peer only.
    With(Address),
}

/// Which page of results: up to `limit` (at most [`MAX_PAGE`]) before history position
/// `before` (the newest if `None`). The next page is `before` the last hit's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchPage {
    /// Only hits older than this position.
    pub before: Option<u64>,
    /// Most hits.
    pub limit: usize,
}

impl SearchPage {
    /// The newest `limit` hits.
    pub fn first(limit: usize) -> Self {
        Self { before: None, limit }
    }

    /// The page after the one whose last (oldest) hit is `last`.
    pub fn after(last: &SearchHit, limit: usize) -> Self {
        Self {
            before: Some(last.entry.position),
            limit,
        }
    }
}

/// One message that matched: its history entry (id, peer, times, content with the newest text)
/// and a snippet of its text around the first matching word, which is marked `[like this]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The message as the history lists it.
    pub entry: HistoryEntry,
    /// A few words around the first match.
    pub snippet: String,
}

/// Why a search could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The query holds no word (only spaces or punctuation).
    #[error("the search has no word to look for")]
    EmptyQuery,
    /// The query is over [`MAX_QUERY_LEN`] bytes or [`MAX_QUERY_WORDS`] words.
    #[error("the search is too long: at most {MAX_QUERY_LEN} bytes and {MAX_QUERY_WORDS} words")]
    QueryTooLong,
    /// The full-text engine refused the query (its message; our quoting should never let this
    /// happen, but it is an error, not a panic).
    #[error("the search was refused: {0}")]
    Rejected(String),
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One word of a query, lowercased: what it must equal, or start with if `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    word: String,
    prefix: bool,
}

/// The user's `query` as FTS5 terms. Punctuation-only words are dropped (FTS5 would find no
/// token in them).
fn terms(query: &str) -> Result<Vec<Term>, SearchError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(SearchError::QueryTooLong);
    }
    let terms: Vec<Term> = query
        .split_whitespace()
        .filter_map(|word| {
            let (word, prefix) = match word.strip_suffix('*') {
                Some(stem) => (stem, true),
                None => (word, false),
            };
            word.chars().any(char::is_alphanumeric).then(|| Term {
                word: word.to_lowercase(),
                prefix,
            })
        })
        .collect();
    if terms.is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    if terms.len() > MAX_QUERY_WORDS {
        return Err(SearchError::QueryTooLong);
    }
    Ok(terms)
}

/// The FTS5 expression: each term an FTS5 string (`"` doubled inside), prefix terms followed by
/// `*`, all required.
fn expression(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|term| {
            let quoted = format!("\"{}\"", term.word.replace('"', "\"\""));
            if term.prefix { quoted + "*" } else { quoted }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `query` in `scope`, one `page` of results, newest first.
pub(super) fn search(
    conn: &Connection,
    query: &str,
    scope: SearchScope,
    page: SearchPage,
) -> Result<Vec<SearchHit>, SearchError> {
    let terms = terms(query)?;
    let entries = entries(conn, &expression(&terms), scope, page)?;
    Ok(entries
        .into_iter()
        .map(|entry| {
            let snippet = entry
                .message
                .content
                .shown_text()
                .map(|text| snippet(text, &terms))
                .unwrap_or_default();
            SearchHit { entry, snippet }
        })
        .collect())
}

/// The history entries the FTS5 `expression` matches in `scope`, one `page`, newest first.
fn entries(
    conn: &Connection,
    expression: &str,
    scope: SearchScope,
    page: SearchPage,
) -> Result<Vec<HistoryEntry>, SearchError> {
    let before = page.before.map_or(i64::MAX, saturating);
    let limit = saturating(page.limit.min(MAX_PAGE));
    let select = format!(
        "SELECT {MESSAGE_COLUMNS} FROM message_search JOIN messages ON position = message_search.rowid \
         WHERE message_search MATCH ?1 AND message_search.rowid < ?2"
    );
    let (sql, bound): (String, Vec<&dyn rusqlite::ToSql>) = match &scope {
        SearchScope::All => (
            format!("{select} ORDER BY message_search.rowid DESC LIMIT ?3"),
            vec![&expression, &before, &limit],
        ),
        SearchScope::With(peer) => (
            format!("{select} AND peer = ?4 ORDER BY message_search.rowid DESC LIMIT ?3"),
            vec![&expression, &before, &limit, peer.as_bytes()],
        ),
    };
    // The statement is ours and prepares; an error while it runs is FTS5 refusing the
    // expression (a generic SQLite error: "fts5: syntax error near ...", "unterminated string").
    let rejected = |error: rusqlite::Error| match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::Unknown) => SearchError::Rejected(error.to_string()),
        _ => SearchError::Store(error.into()),
    };
    let mut statement = conn.prepare_cached(&sql).map_err(StoreError::from)?;
    let mut found = statement.query(bound.as_slice()).map_err(rejected)?;
    let mut entries = Vec::new();
    while let Some(row) = found.next().map_err(rejected)? {
        entries.push(codec::message(row)?);
    }
    Ok(entries)
}

/// [`entries`] for a raw FTS5 expression (tests show what a refused one becomes).
#[cfg(test)]
pub(super) fn tests_raw_match(conn: &Connection, expression: &str) -> Result<Vec<HistoryEntry>, SearchError> {
    entries(conn, expression, SearchScope::All, SearchPage::first(5))
}

/// Whether `word` (as written in a message) is one `terms` names: its letters and digits,
/// lowercased, equal a term or start with a prefix term.
fn matches(word: &str, terms: &[Term]) -> bool {
    let bare: String = word
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    !bare.is_empty()
        && terms.iter().any(|term| {
            let stem: String = term.word.chars().filter(|c| c.is_alphanumeric()).collect();
            if term.prefix {
                bare.starts_with(&stem)
            } else {
                bare == stem
            }
        })
}

/// Up to [`SNIPPET_CONTEXT`] words either side of the first word of `text` that matches, the
/// matching words marked `[...]`, cut ends shown as `…`. Without a match found here (FTS5 folds
/// diacritics, this does not), the text's start.
fn snippet(text: &str, terms: &[Term]) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let first = words.iter().position(|word| matches(word, terms)).unwrap_or(0);
    let start = first.saturating_sub(SNIPPET_CONTEXT);
    let end = (first + SNIPPET_CONTEXT + 1).min(words.len());
    let mut out: Vec<String> = Vec::with_capacity(end - start + 2);
    if start > 0 {
        out.push("…".to_owned());
    }
    for word in words.get(start..end).unwrap_or_default() {
        out.push(if matches(word, terms) {
            format!("[{word}]")
        } else {
            (*word).to_owned()
        });
    }
    if end < words.len() {
        out.push("…".to_owned());
    }
    out.join(" ")
}

/// Bytes the search index takes in the database (its shadow tables' pages).
pub(super) fn index_bytes(conn: &Connection) -> Result<u64, StoreError> {
    let bytes: i64 = conn.query_row(
        "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'message\\_search%' ESCAPE '\\'",
        [],
        |row| row.get(0),
    )?;
    Ok(u64::try_from(bytes).unwrap_or(0))
}

impl super::SqlStore {
    /// Searches the history for messages holding every word of `query` (a word ending in `*`
    /// is a prefix), in `scope`, newest first, one `page` at a time. Edited messages are found
    /// by their newest text; deleted and expired ones are not found.
    pub fn search(
        &self,
        query: &str,
        scope: SearchScope,
        page: SearchPage,
    ) -> Result<Vec<SearchHit>, SearchError> {
        let tx = self.conn.unchecked_transaction().map_err(StoreError::from)?;
        let result = search(&tx, query, scope, page);
        tx.finish().map_err(StoreError::from)?;
        result
    }

    /// Bytes the search index takes in the database.
    pub fn search_index_bytes(&self) -> Result<u64, StoreError> {
        index_bytes(&self.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(word: &str, prefix: bool) -> Term {
        Term {
            word: word.to_owned(),
            prefix,
        }
    }

    #[test]
    fn words_become_quoted_terms() {
        let parsed = terms("  Lunch  \"noon\" OR NEAR( caf* ").unwrap();
        assert_eq!(expression(&parsed), r#""lunch" """noon""" "or" "near(" "caf"*"#);
        assert!(matches!(terms(" ... !! * "), Err(SearchError::EmptyQuery)));
        assert!(matches!(terms(""), Err(SearchError::EmptyQuery)));
        assert!(matches!(
            terms(&"a ".repeat(MAX_QUERY_WORDS + 1)),
            Err(SearchError::QueryTooLong)
        ));
        assert!(matches!(
            terms(&"a".repeat(MAX_QUERY_LEN + 1)),
            Err(SearchError::QueryTooLong)
        ));
    }

    #[test]
    fn snippets_mark_the_match_in_its_context() {
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";
        assert_eq!(
            snippet(text, &[term("ten", false)]),
            "… four five six seven eight nine [ten] eleven twelve thirteen fourteen"
        );
        assert_eq!(
            snippet("Lunch at noon, Bob?", &[term("noon", false), term("bo", true)]),
            "Lunch at [noon,] [Bob?]"
        );
        assert_eq!(snippet("short", &[term("absent", false)]), "short");
    }
}
