//! Typing and presence in `hush chat`: "<name> is typing…", presence lines, `/presence on|off`.

use chrono::TimeZone;
use hush_client::{Address, Client, Event, Presence, PresenceSetting};

/// What the chat prints for a typing or presence event about `peer`, if anything.
pub fn event_line(event: &Event, peer: &Address, name: &str) -> Option<String> {
    match event {
        Event::Typing {
            peer: about,
            typing: true,
        } if about == peer => Some(format!("  {name} is typing…")),
        Event::PresenceChanged {
            peer: about,
            presence,
        } if about == peer => Some(match presence {
            Presence::Online => format!("  ({name} is online)"),
            Presence::LastSeen(at) => format!("  ({name} was last seen {})", clock(*at)),
            _ => return None,
        }),
        _ => None,
    }
}

fn clock(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
        .map_or_else(
            || "at an unknown time".to_owned(),
            |at| format!("at {}", at.format("%H:%M:%S")),
        )
}

/// A line was typed for `peer`: it hears "typing" (then "stopped" once the line is sent).
pub async fn typed(client: &Client, peer: Address) {
    // Lost if either side is offline; nothing to report.
    let _ = client.send_typing(peer, true).await;
    let _ = client.send_typing(peer, false).await;
}

/// Whether `line` is `/presence …`.
pub fn is_presence_command(line: &str) -> bool {
    line.split_whitespace().next() == Some("/presence")
}

/// Carries out `/presence on` or `/presence off`; the line to print.
pub async fn presence_command(client: &Client, line: &str) -> String {
    let setting = match line.split_whitespace().nth(1) {
        Some("on") => PresenceSetting::On,
        Some("off") => PresenceSetting::Off,
        _ => {
            return "  ! /presence on|off (off by default: contacts do not see when you are online)"
                .to_owned();
        }
    };
    match client.set_presence(setting).await {
        Ok(()) if setting == PresenceSetting::On => {
            "  · presence on: contacts see when you are online".to_owned()
        }
        Ok(()) => "  · presence off".to_owned(),
        Err(error) => format!("  ! {error}"),
    }
}
