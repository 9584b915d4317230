//! The rewriting table file: its format and its parser.
//!
//! One rule a line; `#` starts a comment; addresses are compared without
//! regard to case (as Postfix's `virtual(5)` does). Each rule is a keyword,
//! a pattern and what it maps to:
//!
//! ```text
//! alias   info@example.org    alice@example.net            # one to one
//! alias   staff@example.org   a@example.net, b@example.net # one to many
//! alias   @old.example        @new.example                 # domain, local part kept
//! alias   @example.org        catchall@example.net         # catch-all
//! list    team@example.org    owner=team-owner@example.org a@example.net, b@example.net
//! refuse  gone@example.org                                 # 550 5.1.1 at RCPT
//! refuse  @closed.example                                  # the rest of a domain
//! sender  @host1.companya.example  @companyb.example       # canonical / masquerading
//! sender  root@example.org         postmaster@example.org
//! ```
//!
//! An exact address wins over its `@domain` rule. Targets may themselves
//! be aliases or lists, expanded in turn ([`super::expand`]).

use std::collections::HashMap;

use smtpwire::ForwardPath;

/// Most rules a table may hold, so that a runaway file cannot fill memory.
pub const MAX_RULES: usize = 100_000;

/// Most targets one rule may name.
pub const MAX_TARGETS: usize = 10_000;

/// Where an alias or a list member points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address, lower case.
    Address(String),
    /// `@domain`: the same local part at this domain, lower case.
    Domain(String),
}

impl Target {
    /// The address `local` at `domain` (the pattern's) becomes.
    pub fn apply(&self, local: &str) -> String {
        match self {
            Target::Address(address) => address.clone(),
            Target::Domain(domain) => format!("{local}@{domain}"),
        }
    }
}

/// What a recipient pattern maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// An alias: one target or several, delivered for the same sender.
    Alias(Vec<Target>),
    /// A list: its members, for a new envelope from its owner (RFC 5321
    /// §3.9.2).
    List {
        /// The owner address, which gets the bounces.
        owner: String,
        /// The members.
        members: Vec<Target>,
    },
    /// Refused at RCPT.
    Refuse,
}

/// A parsed table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Recipient rules by lower-case address or `@domain`.
    pub recipients: HashMap<String, Rule>,
    /// Sender rewriting by lower-case address or `@domain`.
    pub senders: HashMap<String, Target>,
}

/// A line that does not parse, with its number (from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct TableError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl Table {
    /// Parses the table's text.
    pub fn parse(text: &str) -> Result<Table, TableError> {
        let mut table = Table::default();
        for (index, line) in text.lines().enumerate() {
            let error = |problem: String| TableError {
                line: index + 1,
                problem,
            };
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            if table.recipients.len() + table.senders.len() >= MAX_RULES {
                return Err(error(format!("more than {MAX_RULES} rules")));
            }
            let mut words = line.split_whitespace();
            let (Some(keyword), Some(pattern)) = (words.next(), words.next()) else {
                return Err(error("a keyword and a pattern are needed".into()));
            };
            let pattern = pattern_of(pattern).map_err(error)?;
            let rest: Vec<&str> = words
                .flat_map(|word| word.split(','))
                .filter(|word| !word.is_empty())
                .collect();
            if rest.len() > MAX_TARGETS {
                return Err(error(format!("more than {MAX_TARGETS} targets")));
            }
            let duplicate = || error(format!("{pattern} is given twice"));
            match keyword {
                "alias" | "list" | "refuse" => {
                    let rule = recipient_rule(keyword, &rest).map_err(error)?;
                    if table.recipients.insert(pattern.clone(), rule).is_some() {
                        return Err(duplicate());
                    }
                }
                "sender" => {
                    let [target] = rest[..] else {
                        return Err(error("a sender rule names one replacement".into()));
                    };
                    let target = target_of(target).map_err(error)?;
                    if matches!(target, Target::Domain(_)) != pattern.starts_with('@') {
                        return Err(error("an @domain is rewritten to an @domain".into()));
                    }
                    if table.senders.insert(pattern.clone(), target).is_some() {
                        return Err(duplicate());
                    }
                }
                other => return Err(error(format!("unknown keyword {other}"))),
            }
        }
        Ok(table)
    }
}

/// The rule after its pattern.
fn recipient_rule(keyword: &str, rest: &[&str]) -> Result<Rule, String> {
    let targets = |words: &[&str]| -> Result<Vec<Target>, String> {
        if words.is_empty() {
            return Err(format!("{keyword} names no target"));
        }
        words.iter().map(|word| target_of(word)).collect()
    };
    match keyword {
        "refuse" if rest.is_empty() => Ok(Rule::Refuse),
        "refuse" => Err("refuse takes no target".into()),
        "alias" => Ok(Rule::Alias(targets(rest)?)),
        _ => {
            let Some((owner, members)) = rest
                .split_first()
                .and_then(|(first, members)| Some((first.strip_prefix("owner=")?, members)))
            else {
                return Err("a list starts with owner=ADDRESS".into());
            };
            let Target::Address(owner) = target_of(owner)? else {
                return Err("a list's owner is an address".into());
            };
            Ok(Rule::List {
                owner,
                members: targets(members)?,
            })
        }
    }
}

/// A pattern: an address or `@domain`, lower case.
fn pattern_of(word: &str) -> Result<String, String> {
    match target_of(word)? {
        Target::Address(address) => Ok(address),
        Target::Domain(domain) => Ok(format!("@{domain}")),
    }
}

/// A target: an address (`local@domain`, checked as RFC 5321 has it) or
/// `@domain`.
fn target_of(word: &str) -> Result<Target, String> {
    let word = word.trim_start_matches('<').trim_end_matches('>');
    let invalid = |reason: String| format!("{word}: {reason}");
    if let Some(domain) = word.strip_prefix('@') {
        smtpwire::Domain::parse(domain).map_err(|e| invalid(e.to_string()))?;
        return Ok(Target::Domain(domain.to_ascii_lowercase()));
    }
    ForwardPath::from_address(word).map_err(|e| invalid(e.to_string()))?;
    Ok(Target::Address(word.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = "\
            # comment\n\
            alias   info@example.org    alice@example.net\n\
            alias   staff@example.org   a@example.net, b@example.net\n\
            alias   @old.example        @new.example\n\
            alias   @example.org        catchall@example.net\n\
            list    Team@Example.org    owner=team-owner@example.org a@example.net,b@example.net\n\
            refuse  gone@example.org\n\
            sender  @host1.companya.example  @companyb.example\n";
        let table = Table::parse(text).unwrap();
        assert_eq!(table.recipients.len(), 6);
        assert_eq!(
            table.recipients["team@example.org"],
            Rule::List {
                owner: "team-owner@example.org".into(),
                members: vec![
                    Target::Address("a@example.net".into()),
                    Target::Address("b@example.net".into())
                ],
            }
        );
        assert_eq!(
            table.recipients["@old.example"],
            Rule::Alias(vec![Target::Domain("new.example".into())])
        );
        assert_eq!(table.recipients["gone@example.org"], Rule::Refuse);
        assert_eq!(
            table.senders["@host1.companya.example"],
            Target::Domain("companyb.example".into())
        );
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, line) in [
            ("alias a@example.org\n", 1),
            ("\nalias a@example.org not-an-address\n", 2),
            ("list l@example.org a@example.org\n", 1),
            ("refuse a@example.org b@example.org\n", 1),
            ("sender @a.example b@example.org\n", 1),
            ("forward a@example.org b@example.org\n", 1),
            (
                "alias a@x.example b@x.example\nalias A@x.example c@x.example\n",
                2,
            ),
        ] {
            assert_eq!(Table::parse(text).unwrap_err().line, line, "{text}");
        }
    }
}
