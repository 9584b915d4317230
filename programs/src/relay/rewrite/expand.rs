//! A recipient through the table: unchanged, refused, or rewritten to the
//! addresses it expands to, grouped by the envelope they go in.
//!
//! Aliases keep the sender; a list starts a new envelope from its owner
//! (RFC 5321 §3.9.2), lists with one owner sharing it. Nested aliases and
//! lists are followed up to [`MAX_DEPTH`]; an address met again on its own
//! expansion path is a loop and refuses the recipient, and each address
//! is kept once per envelope.

use std::collections::BTreeMap;

use super::table::{Rule, Table};

/// How deep aliases and lists may nest (Postfix's `virtual_alias_recursion_limit`
/// is 1000; sendmail's `MaxAliasRecursion` 10, the bound kept here).
pub const MAX_DEPTH: usize = 10;

/// Most addresses one recipient may expand to (Postfix's
/// `virtual_alias_expansion_limit` is 1000).
pub const MAX_EXPANSION: usize = 1000;

/// Why a recipient is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The table refuses it (550 5.1.1).
    Refused,
    /// Its expansion loops, nests too deep or grows too large (550
    /// 5.4.6, RFC 3463: routing loop detected).
    Loop,
}

/// The addresses one envelope gets from an expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branch {
    /// The addresses, lower case, each once.
    pub recipients: Vec<String>,
}

/// What a recipient became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// The addresses delivered for the original sender.
    pub same_sender: Branch,
    /// The addresses each list owner's envelope gets, by owner.
    pub lists: BTreeMap<String, Branch>,
}

impl Expansion {
    /// One address for the same sender: a one-to-one rewrite.
    pub fn one(address: String) -> Expansion {
        Expansion {
            same_sender: Branch {
                recipients: vec![address],
            },
            lists: BTreeMap::new(),
        }
    }

    /// Whether it is one address for the same sender: an alias that keeps
    /// the DSN parameters as they were (RFC 3461 §5.2.7.2).
    pub fn is_one_to_one(&self) -> bool {
        self.lists.is_empty() && self.same_sender.recipients.len() == 1
    }

    fn count(&self) -> usize {
        self.same_sender.recipients.len()
            + self
                .lists
                .values()
                .map(|branch| branch.recipients.len())
                .sum::<usize>()
    }
}

/// What the table says of a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// No rule: delivered as given.
    Unchanged,
    /// Refused at RCPT.
    Refused(Refusal),
    /// Rewritten.
    Rewritten(Expansion),
}

impl Table {
    /// Resolves `address` (as RCPT gave it, without brackets).
    pub fn resolve(&self, address: &str) -> Resolution {
        let address = address.to_lowercase();
        match self.rule_of(&address) {
            None => Resolution::Unchanged,
            Some(Rule::Refuse) => Resolution::Refused(Refusal::Refused),
            Some(_) => {
                let mut expansion = Expansion {
                    same_sender: Branch::default(),
                    lists: BTreeMap::new(),
                };
                let mut path = Vec::new();
                match self.expand(&address, None, &mut path, &mut expansion) {
                    Ok(()) if expansion.count() == 0 => Resolution::Refused(Refusal::Refused),
                    Ok(()) => Resolution::Rewritten(expansion),
                    Err(refusal) => Resolution::Refused(refusal),
                }
            }
        }
    }

    /// The sender `address` is rewritten to, if a `sender` rule matches.
    pub fn rewrite_sender(&self, address: &str) -> Option<String> {
        let address = address.to_lowercase();
        let (local, domain) = address.rsplit_once('@')?;
        let target = self
            .senders
            .get(&address)
            .or_else(|| self.senders.get(&format!("@{domain}")))?;
        Some(target.apply(local))
    }

    /// The rule for an address: its own, or its domain's.
    fn rule_of(&self, address: &str) -> Option<&Rule> {
        self.recipients.get(address).or_else(|| {
            let (_, domain) = address.rsplit_once('@')?;
            self.recipients.get(&format!("@{domain}"))
        })
    }

    /// Adds what `address` expands to into `expansion`, for the envelope
    /// of `owner` (`None`: the original sender's). `path` holds the
    /// addresses being expanded above this one.
    fn expand(
        &self,
        address: &str,
        owner: Option<&str>,
        path: &mut Vec<String>,
        expansion: &mut Expansion,
    ) -> Result<(), Refusal> {
        if path.iter().any(|above| above == address) || path.len() > MAX_DEPTH {
            return Err(Refusal::Loop);
        }
        let Some((local, _)) = address.rsplit_once('@') else {
            return Err(Refusal::Refused);
        };
        let (targets, owner) = match self.rule_of(address) {
            // A final address; one the table refuses is left out of a list
            // or an alias to several (the recipient itself was checked).
            None => {
                keep(address, owner, expansion)?;
                return Ok(());
            }
            Some(Rule::Refuse) => return Ok(()),
            Some(Rule::Alias(targets)) => (targets, owner),
            Some(Rule::List { owner, members }) => (members, Some(owner.as_str())),
        };
        path.push(address.to_string());
        for target in targets {
            let next = target.apply(local);
            if next == address {
                // An alias to itself and others keeps a copy for itself.
                keep(address, owner, expansion)?;
            } else {
                self.expand(&next, owner, path, expansion)?;
            }
        }
        path.pop();
        Ok(())
    }
}

/// Keeps `address` in `owner`'s envelope, once.
fn keep(address: &str, owner: Option<&str>, expansion: &mut Expansion) -> Result<(), Refusal> {
    if expansion.count() >= MAX_EXPANSION {
        return Err(Refusal::Loop);
    }
    let branch = match owner {
        None => &mut expansion.same_sender,
        Some(owner) => expansion.lists.entry(owner.to_string()).or_default(),
    };
    if !branch.recipients.iter().any(|kept| kept == address) {
        branch.recipients.push(address.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        Table::parse(text).unwrap()
    }

    fn same(addresses: &[&str]) -> Branch {
        Branch {
            recipients: addresses.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn aliases_domains_and_catch_alls() {
        let t = table(
            "alias info@example.org alice@example.net\n\
             alias @old.example @new.example\n\
             alias @example.org catchall@example.net\n\
             alias known@example.org known@example.org, copy@example.net\n\
             refuse gone@example.org\n",
        );
        let Resolution::Rewritten(one) = t.resolve("Info@example.org") else {
            panic!()
        };
        assert!(one.is_one_to_one());
        assert_eq!(one.same_sender, same(&["alice@example.net"]));
        let Resolution::Rewritten(moved) = t.resolve("bob@old.example") else {
            panic!()
        };
        assert_eq!(moved.same_sender, same(&["bob@new.example"]));
        let Resolution::Rewritten(caught) = t.resolve("anyone@example.org") else {
            panic!()
        };
        assert_eq!(caught.same_sender, same(&["catchall@example.net"]));
        let Resolution::Rewritten(kept) = t.resolve("known@example.org") else {
            panic!()
        };
        assert_eq!(
            kept.same_sender,
            same(&["known@example.org", "copy@example.net"])
        );
        assert_eq!(
            t.resolve("gone@example.org"),
            Resolution::Refused(Refusal::Refused)
        );
        assert_eq!(t.resolve("bob@example.net"), Resolution::Unchanged);
    }

    #[test]
    fn nested_lists_share_an_owner_and_keep_each_member_once() {
        let t = table(
            "list all@example.org owner=owner@example.org a@example.net, team@example.org, other@example.org\n\
             list team@example.org owner=owner@example.org a@example.net, b@example.net\n\
             list other@example.org owner=other-owner@example.org c@example.net, a@example.net\n\
             alias b@example.net b@example.com\n",
        );
        let Resolution::Rewritten(all) = t.resolve("all@example.org") else {
            panic!()
        };
        assert!(all.same_sender.recipients.is_empty());
        assert_eq!(
            all.lists["owner@example.org"],
            same(&["a@example.net", "b@example.com"])
        );
        assert_eq!(
            all.lists["other-owner@example.org"],
            same(&["c@example.net", "a@example.net"])
        );
    }

    #[test]
    fn loops_and_depth_are_refused() {
        let t = table(
            "list a@example.org owner=o@example.org b@example.org\n\
             list b@example.org owner=o@example.org x@example.net, a@example.org\n",
        );
        assert_eq!(
            t.resolve("a@example.org"),
            Resolution::Refused(Refusal::Loop)
        );
        let chain: String = (0..=MAX_DEPTH + 1)
            .map(|n| format!("alias l{n}@example.org l{}@example.org\n", n + 1))
            .collect();
        assert_eq!(
            table(&chain).resolve("l0@example.org"),
            Resolution::Refused(Refusal::Loop)
        );
    }

    #[test]
    fn senders_are_rewritten_by_address_or_domain() {
        let t = table(
            "sender @host1.companya.example @companyb.example\n\
             sender root@example.org postmaster@example.org\n",
        );
        assert_eq!(
            t.rewrite_sender("Anyone@host1.companya.example").as_deref(),
            Some("anyone@companyb.example")
        );
        assert_eq!(
            t.rewrite_sender("root@example.org").as_deref(),
            Some("postmaster@example.org")
        );
        assert_eq!(t.rewrite_sender("alice@example.org"), None);
    }
}
