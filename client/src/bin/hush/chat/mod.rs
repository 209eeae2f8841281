//! `hush chat`: a terminal UI at a terminal ([`tui`]), the line mode ([`plain`]) with `--plain`
//! or when standard input or output is not a terminal (scripts, pipes).

mod group;
mod plain;
mod surface;
mod timer;
mod tui;
mod typing;

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;

/// `text` with control characters (escape sequences, newlines) shown as `�`: what a peer
/// writes must not move the cursor, restyle or retitle the terminal, or fake a line of ours.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|ch| if ch.is_control() { '\u{fffd}' } else { ch })
        .collect()
}

/// Runs the chat in the group `group` (its name or id prefix): the line mode, at a terminal too.
pub async fn run_group(dir: &Path, group: &str) -> Result<()> {
    group::run(dir, group).await
}

/// Runs the chat with `with` (a contact name or an address).
pub async fn run(dir: &Path, with: &str, plain: bool) -> Result<()> {
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if plain || !terminal {
        plain::run(dir, with).await
    } else {
        tui::run(dir, with).await
    }
}
