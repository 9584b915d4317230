//! Sender rewriting in the header section, by option: the addresses of
//! the `From:` and `Sender:` fields (RFC 5322 §3.6.2) go through the
//! table's `sender` rules as the envelope sender does, as Postfix's
//! `canonical(5)` and masquerading do. Only these fields change; the
//! relay signs the message afterwards (DKIM), since an earlier signature
//! over `From:` no longer holds.

use super::Table;

/// The fields rewritten.
const FIELDS: [&str; 2] = ["from:", "sender:"];

/// `content` with the addresses of its `From:` and `Sender:` fields
/// rewritten by `table`'s sender rules; `None` when nothing changed. An
/// address is a run of atext and dots around an `@` (quoted local parts
/// and comments holding an `@` are left alone).
pub fn rewrite_sender_fields(content: &[u8], table: &Table) -> Option<Vec<u8>> {
    if table.senders.is_empty() {
        return None;
    }
    let header_end = content
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(content.len(), |end| end + 2);
    let header = std::str::from_utf8(&content[..header_end]).ok()?;
    let mut out = String::with_capacity(header.len() + 64);
    let mut changed = false;
    let mut in_field = false;
    for line in header.split_inclusive("\r\n") {
        let continues = line.starts_with([' ', '\t']);
        if !continues {
            let lower = line.to_ascii_lowercase();
            in_field = FIELDS.iter().any(|field| lower.starts_with(field));
        }
        if in_field {
            let rewritten = rewrite_addresses(line, table);
            changed |= rewritten != line;
            out.push_str(&rewritten);
        } else {
            out.push_str(line);
        }
    }
    if !changed {
        return None;
    }
    let mut rewritten = out.into_bytes();
    rewritten.extend_from_slice(&content[header_end..]);
    Some(rewritten)
}

/// `line` with each address the table rewrites replaced.
fn rewrite_addresses(line: &str, table: &Table) -> String {
    // RFC 5322 §3.2.3 atext and dots for the local part, letters, digits,
    // hyphens and dots for the domain (RFC 5321 §4.1.2), UTF-8 in either
    // (RFC 6532).
    let is_local_char =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii();
    let is_domain_char = |c: char| c.is_ascii_alphanumeric() || "-.".contains(c) || !c.is_ascii();
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('@') {
        let start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_local_char(c))
            .last()
            .map_or(at, |(index, _)| index);
        let end = rest[at + 1..]
            .char_indices()
            .find(|&(_, c)| !is_domain_char(c))
            .map_or(rest.len(), |(index, _)| at + 1 + index);
        let address = &rest[start..end];
        out.push_str(&rest[..start]);
        match table.rewrite_sender(address) {
            Some(new) if start < at && end > at + 1 => out.push_str(&new),
            _ => out.push_str(address),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_and_sender_are_rewritten_and_nothing_else() {
        let table = Table::parse("sender @host1.companya.example @companyb.example\n").unwrap();
        let content = b"From: \"Ann\" <ann@host1.companya.example>\r\n\
            Sender:\r\n bot@host1.companya.example (the bot)\r\n\
            To: bob@host1.companya.example\r\n\
            Subject: ann@host1.companya.example\r\n\r\n\
            From: body@host1.companya.example\r\n";
        let rewritten = String::from_utf8(rewrite_sender_fields(content, &table).unwrap()).unwrap();
        assert_eq!(
            rewritten,
            "From: \"Ann\" <ann@companyb.example>\r\n\
             Sender:\r\n bot@companyb.example (the bot)\r\n\
             To: bob@host1.companya.example\r\n\
             Subject: ann@host1.companya.example\r\n\r\n\
             From: body@host1.companya.example\r\n"
        );
        assert!(rewrite_sender_fields(b"From: x@example.org\r\n\r\n", &table).is_none());
    }
}
