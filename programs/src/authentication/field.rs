//! The `Authentication-Results:` field (RFC 8601): the results as
//! `mail-auth` words them, in the order SPF, DKIM, DMARC, under this
//! host's authserv-id; and the removal of fields that claim that id in a
//! message from outside (RFC 8601 §5).

use std::borrow::Cow;

use std::net::IpAddr;

use mail_auth::{ArcOutput, AuthenticationResults, DkimOutput, DmarcOutput, DmarcResult};

use super::{Origin, SpfResults};

/// The field's name.
const NAME: &str = "Authentication-Results";

/// The results of one message, in order.
pub(super) struct Results<'a> {
    authserv_id: &'a str,
    /// The `; method=result …` parts, each folded onto its own line.
    parts: String,
    /// The same results as `mail-auth` builds them, for the
    /// `ARC-Authentication-Results:` field of a seal (RFC 8617 §4.1.1),
    /// without the few words this module adds (`dkim=none`, `dmarc=none`
    /// for no single author, `header.d` next to `header.i`).
    sealed: AuthenticationResults<'a>,
}

impl<'a> Results<'a> {
    pub(super) fn new(authserv_id: &'a str) -> Self {
        Results {
            authserv_id,
            parts: String::new(),
            sealed: AuthenticationResults::new(authserv_id),
        }
    }

    /// Adds the results `add` writes with a `mail-auth` builder, to the
    /// field and to the sealed copy.
    fn push(&mut self, add: impl Fn(AuthenticationResults<'a>) -> AuthenticationResults<'a>) {
        let text = add(AuthenticationResults::new(self.authserv_id)).to_string();
        self.parts
            .push_str(text.strip_prefix(self.authserv_id).unwrap_or(&text));
        let sealed = std::mem::replace(
            &mut self.sealed,
            AuthenticationResults::new(self.authserv_id),
        );
        self.sealed = add(sealed);
    }

    /// The results for an ARC seal.
    pub(super) fn sealed(&self) -> &AuthenticationResults<'a> {
        &self.sealed
    }

    /// `arc=` for the chain the message came with (RFC 8617 §5.2).
    pub(super) fn arc(&mut self, chain: &ArcOutput<'_>, client: IpAddr) {
        self.push(|results| results.with_arc_result(chain, client));
    }

    /// `spf=` for the HELO identity (`smtp.helo`, when it is a domain) and
    /// for the MAIL FROM identity (`smtp.mailfrom`: for `<>` the
    /// `postmaster@` address RFC 7208 §2.4 checks instead).
    pub(super) fn spf(&mut self, origin: &Origin<'_>, spf: &SpfResults) {
        let helo = origin.helo.unwrap_or_default();
        if let Some(output) = &spf.helo {
            self.push(|results| results.with_spf_ehlo_result(output, origin.client, helo));
        }
        let postmaster;
        let mail_from = if origin.mail_from.is_empty() && !helo.is_empty() {
            postmaster = format!("postmaster@{helo}");
            postmaster.as_str()
        } else {
            origin.mail_from
        };
        self.push(|results| {
            results.with_spf_mailfrom_result(&spf.mail_from, origin.client, mail_from, helo)
        });
    }

    /// One `dkim=` per signature with `header.d`, `header.s` and the first
    /// bits of `header.b` (RFC 6008 §4), and `header.i` when the signature
    /// has an `i=` tag (RFC 8601 §2.7.1); `dkim=none` for a message with
    /// none.
    pub(super) fn dkim(&mut self, outputs: &[DkimOutput<'_>], from: &str) {
        if outputs.is_empty() {
            self.parts.push_str(";\r\n\tdkim=none (no signatures)");
            return;
        }
        for output in outputs {
            self.push(|results| results.with_dkim_result(output, from));
            // mail-auth writes header.i instead of header.d when there is
            // an i= tag; the signing domain is what DMARC aligns, so it is
            // written too. A d= that is not a plain domain name is left
            // out rather than quoted.
            if let Some(signature) = output.signature() {
                if !signature.i.is_empty() && is_plain_domain(&signature.d) {
                    self.parts.push_str(" header.d=");
                    self.parts.push_str(&signature.d);
                }
            }
        }
    }

    /// `dmarc=` with `header.from` and the domain's policy; a message
    /// without one author domain is outside DMARC (RFC 7489 §6.6.1).
    pub(super) fn dmarc(&mut self, output: &DmarcOutput) {
        if output.domain().is_empty() {
            self.parts
                .push_str(";\r\n\tdmarc=none (no single author domain)");
            return;
        }
        self.push(|results| results.with_dmarc_result(output));
    }

    /// The whole field, ending in CRLF: `none` when nothing was checked
    /// (RFC 8601 §2.2).
    pub(super) fn into_field(self) -> String {
        let parts = if self.parts.is_empty() {
            "; none"
        } else {
            &self.parts
        };
        format!("{NAME}: {}{parts}\r\n", self.authserv_id)
    }
}

/// Letters, digits, hyphens and dots only: a name that needs no quoting in
/// a field value (RFC 8601 §2.2's `pvalue`).
fn is_plain_domain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The DMARC result keyword the field shows for `output`.
pub(super) fn dmarc_result(output: &DmarcOutput) -> &'static str {
    match output.result() {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

/// `message` without the `Authentication-Results:` fields of its header
/// that claim `authserv_id`: RFC 8601 §5 has a border MTA remove them, as
/// only this host may speak under its id, and a reader would trust them.
/// Other fields, and the body, are left as they are.
pub fn remove_claims_of<'m>(message: &'m [u8], authserv_id: &str) -> Cow<'m, [u8]> {
    let mut kept: Option<Vec<u8>> = None;
    let mut offset = 0;
    for field in header_fields(message) {
        let claims = is_claim_of(field, authserv_id);
        match (&mut kept, claims) {
            (None, true) => kept = Some(message[..offset].to_vec()),
            (Some(kept), false) => kept.extend_from_slice(field),
            _ => {}
        }
        offset += field.len();
    }
    match kept {
        Some(mut kept) => {
            kept.extend_from_slice(&message[offset..]);
            Cow::Owned(kept)
        }
        None => Cow::Borrowed(message),
    }
}

/// The header fields of `message`, each with its continuation lines and
/// line ends; they stop at the empty line, or at a line that is not a
/// field, which starts the body (RFC 5322 §2.1).
pub(crate) fn header_fields(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = message;
    std::iter::from_fn(move || {
        if rest.is_empty() || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return None;
        }
        let first_line = line_end(rest, 0);
        if !rest[..first_line].contains(&b':') {
            return None;
        }
        let mut end = first_line;
        while matches!(rest.get(end), Some(b' ' | b'\t')) {
            end = line_end(rest, end);
        }
        let (field, after) = rest.split_at(end);
        rest = after;
        Some(field)
    })
}

/// Where the line starting at `start` ends, past its LF.
fn line_end(text: &[u8], start: usize) -> usize {
    text[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |at| start + at + 1)
}

/// Whether `field` is an `Authentication-Results:` field whose authserv-id
/// (the value up to the first `;`, RFC 8601 §2.2) is `authserv_id`.
fn is_claim_of(field: &[u8], authserv_id: &str) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    if !field[..colon]
        .trim_ascii()
        .eq_ignore_ascii_case(NAME.as_bytes())
    {
        return false;
    }
    let value = &field[colon + 1..];
    let id = value.split(|&b| b == b';').next().unwrap_or_default();
    id.trim_ascii().eq_ignore_ascii_case(authserv_id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::remove_claims_of;

    #[test]
    fn claims_of_this_host_are_removed() {
        let message = b"Authentication-Results: MX.test;\r\n\tspf=pass smtp.mailfrom=a@b\r\n\
            Authentication-Results: other.example; dkim=pass\r\n\
            Subject: hi\r\n\
            Authentication-Results: mx.test; dmarc=pass\r\n\
            \r\n\
            Authentication-Results: mx.test; in the body\r\n";
        let kept = remove_claims_of(message, "mx.test");
        assert_eq!(
            &kept[..],
            &b"Authentication-Results: other.example; dkim=pass\r\n\
            Subject: hi\r\n\
            \r\n\
            Authentication-Results: mx.test; in the body\r\n"[..]
        );
    }

    #[test]
    fn a_message_without_claims_is_not_copied() {
        let message = b"Subject: hi\r\n\r\nbody\r\n";
        assert!(matches!(
            remove_claims_of(message, "mx.test"),
            std::borrow::Cow::Borrowed(_)
        ));
        // Not a header at all: left alone.
        assert_eq!(&remove_claims_of(b"no header", "mx.test")[..], b"no header");
    }
}
