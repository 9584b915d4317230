//! Whether a MAIL or RCPT command only uses what this server advertised.
//!
//! RFC 5321 §4.1.1.11: a parameter for an extension the server did not
//! advertise is refused with 555; RFC 6531 §3.4: a non-ASCII address needs
//! SMTPUTF8 on MAIL, refused with 553 5.6.7.

use super::replies::{self, Canned};
use crate::address::{ForwardPath, Mailbox, ReversePath};
use crate::capability::Capabilities;
use crate::params::{BodyType, MailParameters, RcptParameters};

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
    let ext = cx.capabilities;
    // After HELO no extension is in force (RFC 5321 §4.1.1.1).
    let offered = |flag: bool| cx.extended && flag;
    if !params.other.is_empty() {
        return Err(replies::UNSUPPORTED_PARAMETER);
    }
    if let Some(size) = params.size {
        if !cx.extended {
            return Err(replies::UNSUPPORTED_PARAMETER);
        }
        // RFC 1870 §6: a declared size over the limit is a permanent refusal.
        if size > cx.max_size {
            return Err(replies::TOO_BIG);
        }
    }
    let body_ok = match params.body {
        None | Some(BodyType::SevenBit) => true,
        Some(BodyType::EightBitMime) => offered(ext.eight_bit_mime),
        Some(BodyType::BinaryMime) => offered(ext.binary_mime && ext.chunking),
    };
    let dsn_ok = (params.ret.is_none() && params.envid.is_none()) || offered(ext.dsn);
    let checks = [
        body_ok,
        dsn_ok,
        !params.smtputf8 || offered(ext.smtp_utf8),
        params.auth.is_none() || offered(cx.auth_offered),
        params.mt_priority.is_none() || offered(ext.mt_priority.is_some()),
        params.hold.is_none() || offered(ext.future_release.is_some()),
        params.by.is_none() || offered(ext.deliver_by.is_some()),
        !params.requiretls || offered(ext.require_tls),
    ];
    if checks.contains(&false) {
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
    if !params.other.is_empty() {
        return Err(replies::UNSUPPORTED_PARAMETER);
    }
    let dsn = params.notify.is_some() || params.orcpt.is_some();
    if dsn && !(cx.extended && cx.capabilities.dsn) {
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
