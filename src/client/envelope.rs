//! The envelope of one message, and the checks against what the server offers.

use alloc::vec::Vec;

use super::ClientError;
use crate::address::{ForwardPath, ReversePath};
use crate::capability::Capabilities;
use crate::params::{BodyType, MailParameters, RcptParameters};

/// One recipient and its RCPT parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path.
    pub path: ForwardPath,
    /// `NOTIFY`, `ORCPT` and others.
    pub params: RcptParameters,
}

/// What to do with a parameter whose extension the server does not offer,
/// when leaving it out changes only what the server is asked to do on top of
/// delivery: DSN (RET, ENVID, NOTIFY, ORCPT), MT-PRIORITY, HOLDFOR/HOLDUNTIL,
/// BY and AUTH=.
///
/// Parameters the message cannot go without (SMTPUTF8, BODY, REQUIRETLS) are
/// always refused; SIZE is always left out, since it only informs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unsupported {
    /// Refuse the message with a typed error.
    #[default]
    Refuse,
    /// Send the message without those parameters.
    Drop,
}

/// The envelope of one message: sender, recipients and their parameters.
///
/// Every value in it was validated when built (no CR, LF or NUL can reach
/// the wire through it).
///
/// ```
/// use smtpwire::client::Envelope;
/// use smtpwire::{ForwardPath, ReversePath};
///
/// let mut envelope = Envelope::new(ReversePath::parse("<a@example.org>").unwrap());
/// envelope.add_recipient(ForwardPath::parse("<b@example.net>").unwrap());
/// envelope.mail_params.size = Some(2048);
/// assert_eq!(envelope.recipients.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path.
    pub from: ReversePath,
    /// MAIL parameters. `SIZE` is sent only when the server offers SIZE;
    /// `SMTPUTF8` is added when an address needs it and the server offers it.
    pub mail_params: MailParameters,
    /// The recipients, in order.
    pub recipients: Vec<Recipient>,
    /// Parameters the server has no extension for.
    pub unsupported: Unsupported,
}

impl Envelope {
    /// An envelope with no recipients and no parameters.
    pub fn new(from: ReversePath) -> Self {
        Envelope {
            from,
            mail_params: MailParameters::default(),
            recipients: Vec::new(),
            unsupported: Unsupported::Refuse,
        }
    }

    /// Adds a recipient without parameters.
    pub fn add_recipient(&mut self, path: ForwardPath) -> &mut Self {
        self.add_recipient_with(path, RcptParameters::default())
    }

    /// Adds a recipient with parameters.
    pub fn add_recipient_with(&mut self, path: ForwardPath, params: RcptParameters) -> &mut Self {
        self.recipients.push(Recipient { path, params });
        self
    }

    fn has_dsn(&self) -> bool {
        let mail = &self.mail_params;
        mail.ret.is_some()
            || mail.envid.is_some()
            || self
                .recipients
                .iter()
                .any(|r| r.params.notify.is_some() || r.params.orcpt.is_some())
    }

    fn needs_smtputf8(&self) -> bool {
        self.mail_params.smtputf8
            || self.from.needs_smtputf8()
            || !self.mail_params.is_ascii()
            || self
                .recipients
                .iter()
                .any(|r| r.path.needs_smtputf8() || !r.params.is_ascii())
    }

    /// The envelope as it goes to this server, or why it cannot.
    ///
    /// `chunking` says whether the content will go with BDAT.
    pub(crate) fn prepare(
        mut self,
        caps: &Capabilities,
        tls: bool,
        chunking: bool,
    ) -> Result<Self, ClientError> {
        let drop = self.unsupported == Unsupported::Drop;
        let params = &mut self.mail_params;
        // RFC 1870 §6: SIZE only to a server that offers it; 0 means no limit.
        match caps.size {
            None => params.size = None,
            Some(limit) if limit > 0 => match params.size {
                Some(size) if size > limit => {
                    return Err(ClientError::MessageTooLarge { size, limit })
                }
                _ => {}
            },
            Some(_) => {}
        }
        match params.body {
            Some(BodyType::EightBitMime) if !caps.eight_bit_mime => {
                return Err(ClientError::EightBitNotSupported)
            }
            // RFC 3030 §3: BINARYMIME content can only go with BDAT.
            Some(BodyType::BinaryMime) if !(chunking && caps.binary_mime) => {
                return Err(ClientError::BinaryMimeNotSupported)
            }
            _ => {}
        }
        // RFC 8689 §4.1: a REQUIRETLS message goes only over TLS, to a server
        // that offers REQUIRETLS.
        if params.requiretls {
            if !tls {
                return Err(ClientError::RequireTlsWithoutTls);
            }
            if !caps.require_tls {
                return Err(ClientError::RequireTlsNotSupported);
            }
        }
        let optional: [(&'static str, bool, bool); 4] = [
            (
                "MT-PRIORITY",
                params.mt_priority.is_some(),
                caps.mt_priority.is_some(),
            ),
            (
                "FUTURERELEASE",
                params.hold.is_some(),
                caps.future_release.is_some(),
            ),
            ("BY", params.by.is_some(), caps.deliver_by.is_some()),
            ("AUTH", params.auth.is_some(), !caps.auth.is_empty()),
        ];
        for (name, used, offered) in optional {
            if used && !offered && !drop {
                return Err(ClientError::ExtensionNotSupported(name));
            }
        }
        if params.mt_priority.is_some() && caps.mt_priority.is_none() {
            params.mt_priority = None;
        }
        if params.hold.is_some() && caps.future_release.is_none() {
            params.hold = None;
        }
        if params.by.is_some() && caps.deliver_by.is_none() {
            params.by = None;
        }
        if params.auth.is_some() && caps.auth.is_empty() {
            params.auth = None;
        }
        if self.has_dsn() && !caps.dsn {
            if !drop {
                return Err(ClientError::DsnNotSupported);
            }
            self.mail_params.ret = None;
            self.mail_params.envid = None;
            for recipient in &mut self.recipients {
                recipient.params.notify = None;
                recipient.params.orcpt = None;
            }
        }
        // RFC 6531 §3.4: a UTF-8 envelope goes only with SMTPUTF8 on MAIL.
        if self.needs_smtputf8() {
            if !caps.smtp_utf8 {
                return Err(ClientError::SmtpUtf8NotSupported);
            }
            self.mail_params.smtputf8 = true;
        }
        Ok(self)
    }
}
