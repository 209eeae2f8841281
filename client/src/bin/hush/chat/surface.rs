//! Reactions, edits, deletes, replies and threads in `hush chat`: how they read, and the
//! commands that send them (`/react ID 👍`, `/unreact ID 👍`, `/edit ID TEXT`, `/delete ID`,
//! `/reply ID TEXT`, `/thread ID TEXT`, `/show ID` for a thread; `ID` is the `#` tag a line
//! shows, or any longer prefix of the message id).

use anyhow::{Result, anyhow};
use hush_client::{Address, Client, Content, Event, MessageId};

/// How many of the latest messages a `#` tag is looked up in.
const LOOKUP: usize = 500;

/// The short tag a line shows for message `id`.
pub fn tag(id: &MessageId) -> String {
    id.to_string().chars().take(8).collect()
}

/// The text a message shows: replies with their quote's tag, thread messages with their
/// root's, a tombstone as such.
pub fn shown(content: &Content) -> Option<String> {
    Some(match content {
        Content::Text(text) => text.clone(),
        Content::Reply(reply) => format!("↪ #{} {}", tag(&reply.target), reply.text),
        Content::InThread(message) => format!("[thread #{}] {}", tag(&message.target), message.text),
        Content::Delete(_) => "(deleted)".to_string(),
        Content::Timer { seconds } => super::timer::shown(*seconds),
        _ => return None,
    })
}

/// What follows a message's line: `(edited)` and its reactions.
pub async fn annotations(
    client: &Client,
    id: MessageId,
    names: &impl Fn(&Address) -> String,
) -> Result<String> {
    let mut out = String::new();
    if !client.edits(id).await?.is_empty() {
        out.push_str("  (edited)");
    }
    let reactions = client.reactions(id).await?;
    if !reactions.is_empty() {
        let list: Vec<String> = reactions
            .iter()
            .map(|reaction| format!("{} {}", reaction.emoji, names(&reaction.by)))
            .collect();
        out.push_str(&format!("  [{}]", list.join(", ")));
    }
    Ok(out)
}

/// The line for a surface event about the chat with `peer` (named `name`).
pub fn event_line(event: &Event, peer: &Address, name: &str) -> Option<String> {
    Some(match event {
        Event::MessageEdited {
            peer: about,
            id,
            text,
        } if about == peer => {
            format!("  ✎ #{} now reads: {text}", tag(id))
        }
        Event::MessageDeleted { peer: about, id } if about == peer => {
            format!("  ✗ #{} was deleted by {name}", tag(id))
        }
        Event::ReactionChanged {
            peer: about,
            id,
            emoji,
            added,
        } if about == peer => {
            let verb = if *added { "reacted" } else { "took back" };
            format!("  {name} {verb} {emoji} on #{}", tag(id))
        }
        Event::EffectIgnored {
            peer: about,
            target,
            reason,
            ..
        } if about == peer => format!("  ! ignored a change from {name} to #{}: {reason:?}", tag(target)),
        _ => return None,
    })
}

/// Runs a chat command line (`/react …`); `None` if `line` is not one.
pub async fn command(client: &Client, peer: Address, line: &str) -> Option<Result<String>> {
    let rest = line.strip_prefix('/')?;
    let (verb, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if verb == "timer" {
        return Some(super::timer::command(client, peer, rest.trim()).await);
    }
    let (tag, arg) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
    let known = ["react", "unreact", "edit", "delete", "reply", "thread", "show"];
    if !known.contains(&verb) {
        return None;
    }
    Some(run(client, peer, verb, tag.trim_start_matches('#'), arg.trim()).await)
}

async fn run(client: &Client, peer: Address, verb: &str, tag: &str, arg: &str) -> Result<String> {
    let target = resolve(client, peer, tag).await?;
    let needs_arg = !matches!(verb, "delete" | "show");
    if needs_arg && arg.is_empty() {
        return Err(anyhow!(
            "usage: /{verb} ID {}",
            if verb.ends_with("react") { "EMOJI" } else { "TEXT" }
        ));
    }
    let id = match verb {
        "react" => client.react(peer, target, arg).await?,
        "unreact" => client.unreact(peer, target, arg).await?,
        "edit" => client.edit(peer, target, arg).await?,
        "delete" => client.delete_for_everyone(peer, target).await?,
        "reply" => client.reply(peer, target, arg).await?,
        "thread" => client.send_in_thread(peer, target, arg).await?,
        _ => {
            let thread = client.thread(target, None, LOOKUP).await?;
            let lines: Vec<String> = thread
                .iter()
                .map(|entry| {
                    let text = shown(&entry.message.content).unwrap_or_default();
                    format!(
                        "    #{} {}",
                        self::tag(&entry.message.id),
                        super::printable(&text)
                    )
                })
                .collect();
            return Ok(format!(
                "  thread under #{tag}: {} message(s)\n{}",
                lines.len(),
                lines.join("\n")
            ));
        }
    };
    Ok(format!(
        "  · {} queued ({verb} #{})",
        self::tag(&id),
        self::tag(&target)
    ))
}

/// The message of the conversation whose id starts with `tag` (hex digits), among the latest.
async fn resolve(client: &Client, peer: Address, tag: &str) -> Result<MessageId> {
    let tag = tag.to_ascii_lowercase();
    if tag.is_empty() {
        return Err(anyhow!("name a message by the # tag its line shows"));
    }
    let matches: Vec<MessageId> = client
        .history(peer, None, LOOKUP)
        .await?
        .into_iter()
        .map(|entry| entry.message.id)
        .filter(|id| id.to_string().starts_with(&tag))
        .collect();
    match matches.as_slice() {
        [id] => Ok(*id),
        [] => Err(anyhow!("no recent message #{tag}")),
        _ => Err(anyhow!("#{tag} names several messages; give more digits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_threads_and_tombstones_read_as_such() {
        let root = MessageId([0xab; 16]);
        assert_eq!(shown(&Content::reply(root, "yes")).unwrap(), "↪ #abababab yes");
        assert_eq!(
            shown(&Content::in_thread(root, "ok")).unwrap(),
            "[thread #abababab] ok"
        );
        assert_eq!(shown(&Content::tombstone(root)).unwrap(), "(deleted)");
        assert_eq!(shown(&Content::edit(root, "x")), None);
    }
}
