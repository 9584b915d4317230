//! The envelope of one message, and the checks against what the server offers.

use alloc::vec::Vec;

use super::MessageError;
use crate::address::{ForwardPath, ReversePath};
use crate::capability::Capabilities;
use crate::params::{MailParameters, ParamExtension, RcptParameters};

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
        self.mail_params.uses(ParamExtension::Dsn)
            || self
                .recipients
                .iter()
                .any(|r| r.params.extensions().next().is_some())
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
    ) -> Result<Self, MessageError> {
        let drop = self.unsupported == Unsupported::Drop;
        let params = &mut self.mail_params;
        // RFC 1870 §6: a size over the server's limit (0 means none).
        if let (Some(limit), Some(size)) = (caps.size, params.size) {
            if limit > 0 && size > limit {
                return Err(MessageError::MessageTooLarge { size, limit });
            }
        }
        for extension in ParamExtension::ALL {
            if !self.uses(extension) {
                continue;
            }
            // RFC 8689 §4.1: a REQUIRETLS message goes only over TLS.
            if extension == ParamExtension::RequireTls && !tls {
                return Err(MessageError::RequireTlsWithoutTls);
            }
            // RFC 3030 §3: BINARYMIME content can only go with BDAT.
            let offered =
                caps.offers(extension) && (extension != ParamExtension::BinaryMime || chunking);
            if offered {
                continue;
            }
            // SIZE only informs: it goes only to a server that offers it.
            let droppable = extension == ParamExtension::Size || (drop && extension.is_optional());
            if !droppable {
                return Err(not_offered(extension));
            }
            self.mail_params.leave_out(extension);
            for recipient in &mut self.recipients {
                recipient.params.leave_out(extension);
            }
        }
        // RFC 6531 §3.4: a UTF-8 envelope goes only with SMTPUTF8 on MAIL.
        if self.needs_smtputf8() {
            self.mail_params.smtputf8 = true;
        }
        Ok(self)
    }

    /// Whether the envelope needs `extension`: its parameters, and for
    /// SMTPUTF8 its addresses too.
    fn uses(&self, extension: ParamExtension) -> bool {
        match extension {
            ParamExtension::SmtpUtf8 => self.needs_smtputf8(),
            ParamExtension::Dsn => self.has_dsn(),
            other => self.mail_params.uses(other),
        }
    }
}

/// The refusal for a parameter whose extension the server does not offer.
fn not_offered(extension: ParamExtension) -> MessageError {
    match extension {
        ParamExtension::EightBitMime => MessageError::EightBitNotSupported,
        ParamExtension::BinaryMime => MessageError::BinaryMimeNotSupported,
        ParamExtension::RequireTls => MessageError::RequireTlsNotSupported,
        ParamExtension::Dsn => MessageError::DsnNotSupported,
        ParamExtension::SmtpUtf8 => MessageError::SmtpUtf8NotSupported,
        ParamExtension::MtPriority => MessageError::ExtensionNotSupported("MT-PRIORITY"),
        ParamExtension::FutureRelease => MessageError::ExtensionNotSupported("FUTURERELEASE"),
        ParamExtension::DeliverBy => MessageError::ExtensionNotSupported("BY"),
        ParamExtension::Auth => MessageError::ExtensionNotSupported("AUTH"),
        // Never refused: SIZE is left out where it is not offered.
        ParamExtension::Size => MessageError::ExtensionNotSupported("SIZE"),
    }
}
