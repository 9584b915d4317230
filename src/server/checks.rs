//! Whether a MAIL or RCPT command only uses what this server advertised.
//!
//! RFC 5321 §4.1.1.11: a parameter for an extension the server did not
//! advertise is refused with 555; RFC 6531 §3.4: a non-ASCII address needs
//! SMTPUTF8 on MAIL, refused with 553 5.6.7.

use super::replies::{self, Canned};
use crate::address::{ForwardPath, Mailbox, ReversePath};
use crate::capability::Capabilities;
use crate::params::{MailParameters, ParamExtension, RcptParameters};

/// What the session knows when it checks an envelope command.
pub(super) struct Context<'a> {
    pub capabilities: &'a Capabilities,
    pub extended: bool,
    pub tls: bool,
    pub auth_offered: bool,
    pub max_size: u64,
    /// Refuse addresses that hold control characters.
    pub refuse_controls: bool,
}

impl Context<'_> {
    /// Whether this session offers `extension` now: nothing after HELO (RFC
    /// 5321 §4.1.1.1), SIZE always after EHLO, AUTH only where the policy
    /// lets it be offered.
    fn offers(&self, extension: ParamExtension) -> bool {
        self.extended
            && match extension {
                ParamExtension::Size => true,
                ParamExtension::Auth => self.auth_offered,
                other => self.capabilities.offers(other),
            }
    }
}

/// Whether `mailbox` holds control characters that policy refuses.
fn refused_controls(cx: &Context<'_>, mailbox: Option<&Mailbox>) -> bool {
    cx.refuse_controls && mailbox.is_some_and(Mailbox::has_control_characters)
}

/// Checks MAIL FROM against the advertised extensions.
pub(super) fn mail(
    cx: &Context<'_>,
    from: &ReversePath,
    params: &MailParameters,
) -> Result<(), Canned> {
    if !params.other.is_empty() {
        return Err(replies::UNSUPPORTED_PARAMETER);
    }
    if let Some(size) = params.size {
        // RFC 1870 §6: a declared size over the limit is a permanent refusal.
        if cx.extended && size > cx.max_size {
            return Err(replies::TOO_BIG);
        }
    }
    if params.extensions().any(|extension| !cx.offers(extension)) {
        return Err(replies::UNSUPPORTED_PARAMETER);
    }
    // RFC 8689 §4.1: REQUIRETLS is only valid on a TLS session.
    if params.requiretls && !cx.tls {
        return Err(replies::REQUIRETLS_NEEDS_TLS);
    }
    if from.needs_smtputf8() && !params.smtputf8 {
        return Err(replies::NEEDS_SMTPUTF8);
    }
    if refused_controls(cx, from.mailbox()) {
        return Err(replies::SENDER_CONTROLS);
    }
    Ok(())
}

/// Checks RCPT TO against the advertised extensions and the transaction's
/// SMTPUTF8 flag.
pub(super) fn rcpt(
    cx: &Context<'_>,
    smtputf8: bool,
    to: &ForwardPath,
    params: &RcptParameters,
) -> Result<(), Canned> {
    if !params.other.is_empty() || params.extensions().any(|extension| !cx.offers(extension)) {
        return Err(replies::UNSUPPORTED_PARAMETER);
    }
    if to.needs_smtputf8() && !smtputf8 {
        return Err(replies::NEEDS_SMTPUTF8);
    }
    if refused_controls(cx, to.mailbox()) {
        return Err(replies::RECIPIENT_CONTROLS);
    }
    Ok(())
}
