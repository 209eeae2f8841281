//! Disappearing messages in `hush chat`: `/timer 1h` (or `30s`, `5m`, `2d`, `1w`, a number of
//! seconds) sets the conversation's timer, `/timer off` turns it off, `/timer` shows it. Both
//! sides see the change as a line.

use anyhow::{Result, anyhow};
use hush_client::{Address, Client};

/// The line a timer message shows.
pub fn shown(seconds: u32) -> String {
    if seconds == 0 {
        "(turned disappearing messages off)".to_owned()
    } else {
        format!("(set disappearing messages to {})", duration(seconds))
    }
}

/// `seconds` in the largest unit that divides it: `1h`, `90s`, `2d`.
pub fn duration(seconds: u32) -> String {
    const UNITS: [(u32, &str); 4] = [(7 * 86_400, "w"), (86_400, "d"), (3600, "h"), (60, "m")];
    UNITS
        .iter()
        .find(|(unit, _)| seconds.is_multiple_of(*unit))
        .map_or_else(
            || format!("{seconds}s"),
            |(unit, name)| format!("{}{name}", seconds / unit),
        )
}

/// `off`, a number of seconds, or a number with `s`, `m`, `h`, `d` or `w`.
pub fn parse(text: &str) -> Result<u32> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let (number, unit) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&text[..at], unit.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(anyhow!("{text:?}: the unit is one of s, m, h, d, w")),
    };
    let number: u32 = number
        .parse()
        .map_err(|_| anyhow!("{text:?} is not a duration like 30s, 5m, 1h, 2d or off"))?;
    let seconds = number
        .checked_mul(scale)
        .filter(|seconds| *seconds <= hush_client::MAX_TIMER_SECONDS)
        .ok_or_else(|| anyhow!("{text:?}: at most a year"))?;
    Ok(seconds)
}

/// Runs `/timer ARG`.
pub async fn command(client: &Client, peer: Address, arg: &str) -> Result<String> {
    if arg.is_empty() {
        return Ok(match client.disappearing_timer(peer).await? {
            Some(seconds) => format!("  disappearing messages: {}", duration(seconds)),
            None => "  disappearing messages: off".to_owned(),
        });
    }
    let seconds = parse(arg)?;
    client.set_disappearing_timer(peer, seconds).await?;
    Ok(format!("  · {}", shown(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse("off").unwrap(), 0);
        assert_eq!(parse("90").unwrap(), 90);
        assert_eq!(parse("5m").unwrap(), 300);
        assert_eq!(parse("1H").unwrap(), 3600);
        assert_eq!(parse("1w").unwrap(), 604_800);
        assert!(parse("1y").is_err());
        assert!(parse("h").is_err());
        assert!(parse("400d").is_err());
        assert_eq!(duration(3600), "1h");
        assert_eq!(duration(90), "90s");
        assert_eq!(shown(0), "(turned disappearing messages off)");
        assert_eq!(shown(172_800), "(set disappearing messages to 2d)");
    }
}
