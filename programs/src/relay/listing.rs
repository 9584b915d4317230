//! How `smtpwire-queue list` shows the queue: for a person, like Postfix's
//! `mailq`, or one JSON object per line (JSON Lines) for a program.

use std::fmt::Write;

use super::admin::Entry;

/// The queue as text: each message's id, age, size, sender and whether it
/// is on hold; its attempts and next attempt; then each recipient with its
/// standing and last error. `now` is in Unix seconds.
pub fn text(entries: &[Entry], now: u64) -> String {
    let mut out = String::new();
    for entry in entries {
        let queued = &entry.queued;
        let _ = writeln!(
            out,
            "{}  {}  {} B  from {}{}",
            queued.name,
            age(now.saturating_sub(entry.arrived)),
            entry.size,
            queued.from,
            if entry.held { "  HELD" } else { "" }
        );
        if !queued.dsn.is_empty() {
            let _ = writeln!(out, "  dsn{}", queued.dsn.render());
        }
        let next = if entry.held {
            "on hold".to_string()
        } else if queued.next_attempt <= now {
            "due now".to_string()
        } else {
            format!("next attempt in {}", age(queued.next_attempt - now))
        };
        let _ = writeln!(out, "  attempts {}, {next}", queued.attempts);
        for recipient in &queued.recipients {
            let _ = write!(
                out,
                "  {:<9} {}",
                recipient.standing.as_str(),
                recipient.path
            );
            // The DSN parameters as the sender gave them, after the path.
            out.push_str(&recipient.params.to_string());
            if let Some(error) = &recipient.last_error {
                let _ = write!(out, "  ({error})");
            }
            out.push('\n');
        }
    }
    let total: u64 = entries.iter().map(|entry| entry.size).sum();
    let held = entries.iter().filter(|entry| entry.held).count();
    let _ = writeln!(
        out,
        "-- {} messages, {total} B, {held} on hold",
        entries.len()
    );
    out
}

/// The queue as JSON Lines: one object per message, with `id`, `arrived`,
/// `age` (seconds), `size` (octets), `sender`, `held`, `attempts`,
/// `first_attempt` and `next_attempt` (Unix seconds), and `recipients`:
/// objects with `address`, `state` (`pending`, `delivered` or `failed`),
/// `last_error` (`null` when none) and `notify` and `orcpt` (RFC 3461, as
/// on the wire; `null` when not given); and `ret` and `envid` likewise.
pub fn json_lines(entries: &[Entry], now: u64) -> String {
    let mut out = String::new();
    for entry in entries {
        let queued = &entry.queued;
        let recipients: Vec<serde_json::Value> = queued
            .recipients
            .iter()
            .map(|recipient| {
                serde_json::json!({
                    "address": recipient.path.to_string(),
                    "state": recipient.standing.as_str(),
                    "last_error": recipient.last_error,
                    "notify": recipient.params.notify.map(|notify| notify.to_string()),
                    "orcpt": recipient.params.orcpt.as_ref().map(ToString::to_string),
                })
            })
            .collect();
        let record = serde_json::json!({
            "id": queued.name,
            "arrived": entry.arrived,
            "age": now.saturating_sub(entry.arrived),
            "size": entry.size,
            "sender": queued.from.to_string(),
            "held": entry.held,
            "attempts": queued.attempts,
            "first_attempt": queued.first_attempt,
            "next_attempt": queued.next_attempt,
            "ret": queued.dsn.ret.map(|ret| ret.as_str()),
            "envid": queued.dsn.envid.as_ref().map(|envid| envid.as_str()),
            "recipients": recipients,
        });
        out.push_str(&record.to_string());
        out.push('\n');
    }
    out
}

/// A duration in seconds the way `mailq` readers glance at it: its largest
/// whole unit (`45s`, `12m`, `3h`, `2d`).
fn age(seconds: u64) -> String {
    const UNITS: [(u64, char); 3] = [(86_400, 'd'), (3_600, 'h'), (60, 'm')];
    UNITS.iter().find(|(size, _)| seconds >= *size).map_or_else(
        || format!("{seconds}s"),
        |(size, unit)| format!("{}{unit}", seconds / size),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::dsn::{parse_recipient, MessageDsn};
    use crate::relay::queue::{Queued, Recipient, Standing};
    use smtpwire::{ForwardPath, ReversePath};

    fn entry(held: bool) -> Entry {
        Entry {
            queued: Queued {
                name: "1000.M1P2Q3.relay.test".into(),
                from: ReversePath::parse("<alice@example.org>").unwrap(),
                dsn: MessageDsn::default(),
                recipients: vec![
                    Recipient {
                        last_error: Some("4.4.1 relay=none".into()),
                        ..Recipient::with_params(
                            parse_recipient("<bob@example.net>\tNOTIFY=DELAY").unwrap(),
                        )
                    },
                    Recipient {
                        standing: Standing::Delivered,
                        ..Recipient::new(ForwardPath::parse("<carol@example.net>").unwrap())
                    },
                ],
                first_attempt: 1000,
                attempts: 2,
                next_attempt: 5000,
                warned: false,
            },
            held,
            size: 321,
            arrived: 1000,
        }
    }

    #[test]
    fn ages_are_in_their_largest_unit() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(60), "1m");
        assert_eq!(age(7_199), "1h");
        assert_eq!(age(3 * 86_400 + 5), "3d");
    }

    #[test]
    fn text_shows_each_message_and_recipient() {
        let shown = text(&[entry(false), entry(true)], 1_200);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "1000.M1P2Q3.relay.test  3m  321 B  from <alice@example.org>",
                "  attempts 2, next attempt in 1h",
                "  pending   <bob@example.net> NOTIFY=DELAY  (4.4.1 relay=none)",
                "  delivered <carol@example.net>",
            ]
        );
        assert!(lines[4].ends_with("HELD"));
        assert_eq!(lines[5], "  attempts 2, on hold");
        assert_eq!(lines[8], "-- 2 messages, 642 B, 1 on hold");
    }

    #[test]
    fn json_has_one_object_per_message() {
        let shown = json_lines(&[entry(true)], 1_200);
        assert_eq!(shown.lines().count(), 1);
        let record: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(record["id"], "1000.M1P2Q3.relay.test");
        assert_eq!(record["age"], 200);
        assert_eq!(record["held"], true);
        assert_eq!(record["sender"], "<alice@example.org>");
        assert_eq!(record["recipients"][0]["state"], "pending");
        assert_eq!(record["recipients"][0]["last_error"], "4.4.1 relay=none");
        assert_eq!(record["recipients"][0]["notify"], "DELAY");
        assert_eq!(record["recipients"][1]["notify"], serde_json::Value::Null);
        assert_eq!(
            record["recipients"][1]["last_error"],
            serde_json::Value::Null
        );
    }
}
