//! Which ESMTP extension each MAIL and RCPT parameter belongs to: the one
//! table from which the server answers a parameter it did not offer with
//! 555 (RFC 5321 §4.1.1.11), and the client refuses, or leaves out, what a
//! server does not offer.

use super::{BodyType, MailParameters, RcptParameters};
use crate::capability::Capabilities;

/// An extension that MAIL or RCPT parameters can need the server to offer.
///
/// ```
/// use smtpwire::params::ParamExtension;
/// use smtpwire::{BodyType, Capabilities, MailParameters};
///
/// let mut params = MailParameters::default();
/// params.body = Some(BodyType::EightBitMime);
/// params.size = Some(2048);
/// let needed: Vec<ParamExtension> = params.extensions().collect();
/// assert_eq!(needed, [ParamExtension::Size, ParamExtension::EightBitMime]);
///
/// let offered = Capabilities { eight_bit_mime: true, ..Capabilities::default() };
/// assert!(offered.offers(ParamExtension::EightBitMime));
/// assert!(!offered.offers(ParamExtension::Size));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamExtension {
    /// SIZE (RFC 1870): `SIZE=`.
    Size,
    /// 8BITMIME (RFC 6152): `BODY=8BITMIME`.
    EightBitMime,
    /// BINARYMIME (RFC 3030), which also needs CHUNKING: `BODY=BINARYMIME`.
    BinaryMime,
    /// REQUIRETLS (RFC 8689): `REQUIRETLS`.
    RequireTls,
    /// MT-PRIORITY (RFC 6710): `MT-PRIORITY=`.
    MtPriority,
    /// FUTURERELEASE (RFC 4865): `HOLDFOR=` and `HOLDUNTIL=`.
    FutureRelease,
    /// DELIVERBY (RFC 2852): `BY=`.
    DeliverBy,
    /// AUTH (RFC 4954 §5): `AUTH=`.
    Auth,
    /// DSN (RFC 3461): `RET=` and `ENVID=` on MAIL, `NOTIFY=` and `ORCPT=`
    /// on RCPT.
    Dsn,
    /// SMTPUTF8 (RFC 6531): `SMTPUTF8`.
    SmtpUtf8,
}

impl ParamExtension {
    /// Every extension, in the order a client checks them.
    pub const ALL: [ParamExtension; 10] = [
        ParamExtension::Size,
        ParamExtension::EightBitMime,
        ParamExtension::BinaryMime,
        ParamExtension::RequireTls,
        ParamExtension::MtPriority,
        ParamExtension::FutureRelease,
        ParamExtension::DeliverBy,
        ParamExtension::Auth,
        ParamExtension::Dsn,
        ParamExtension::SmtpUtf8,
    ];

    /// Whether a message can go without the parameter: it only asks the
    /// server for something on top of delivery (a report, a priority, a
    /// hold, a deadline, an identity), or, for SIZE, only informs.
    pub fn is_optional(self) -> bool {
        !matches!(
            self,
            ParamExtension::EightBitMime
                | ParamExtension::BinaryMime
                | ParamExtension::RequireTls
                | ParamExtension::SmtpUtf8
        )
    }
}

impl MailParameters {
    /// The extensions these parameters need offered, in the order of
    /// [`ParamExtension::ALL`]; an address that needs SMTPUTF8 is not
    /// looked at here, only the `SMTPUTF8` keyword.
    pub fn extensions(&self) -> impl Iterator<Item = ParamExtension> + '_ {
        ParamExtension::ALL
            .into_iter()
            .filter(move |&extension| self.uses(extension))
    }

    /// Whether a parameter of `extension` is set.
    pub fn uses(&self, extension: ParamExtension) -> bool {
        match extension {
            ParamExtension::Size => self.size.is_some(),
            ParamExtension::EightBitMime => self.body == Some(BodyType::EightBitMime),
            ParamExtension::BinaryMime => self.body == Some(BodyType::BinaryMime),
            ParamExtension::RequireTls => self.requiretls,
            ParamExtension::MtPriority => self.mt_priority.is_some(),
            ParamExtension::FutureRelease => self.hold.is_some(),
            ParamExtension::DeliverBy => self.by.is_some(),
            ParamExtension::Auth => self.auth.is_some(),
            ParamExtension::Dsn => self.ret.is_some() || self.envid.is_some(),
            ParamExtension::SmtpUtf8 => self.smtputf8,
        }
    }

    /// Clears the parameters of an optional `extension` (see
    /// [`ParamExtension::is_optional`]); the others stay as they are.
    pub fn leave_out(&mut self, extension: ParamExtension) {
        match extension {
            ParamExtension::Size => self.size = None,
            ParamExtension::MtPriority => self.mt_priority = None,
            ParamExtension::FutureRelease => self.hold = None,
            ParamExtension::DeliverBy => self.by = None,
            ParamExtension::Auth => self.auth = None,
            ParamExtension::Dsn => {
                self.ret = None;
                self.envid = None;
            }
            ParamExtension::EightBitMime
            | ParamExtension::BinaryMime
            | ParamExtension::RequireTls
            | ParamExtension::SmtpUtf8 => {}
        }
    }
}

impl RcptParameters {
    /// The extensions these parameters need offered: DSN for `NOTIFY=` and
    /// `ORCPT=`.
    pub fn extensions(&self) -> impl Iterator<Item = ParamExtension> {
        let dsn = self.notify.is_some() || self.orcpt.is_some();
        dsn.then_some(ParamExtension::Dsn).into_iter()
    }

    /// Clears the DSN parameters when `extension` is DSN.
    pub fn leave_out(&mut self, extension: ParamExtension) {
        if extension == ParamExtension::Dsn {
            self.notify = None;
            self.orcpt = None;
        }
    }
}

impl Capabilities {
    /// Whether these capabilities offer `extension` (BINARYMIME only with
    /// CHUNKING, RFC 3030 §3).
    pub fn offers(&self, extension: ParamExtension) -> bool {
        match extension {
            ParamExtension::Size => self.size.is_some(),
            ParamExtension::EightBitMime => self.eight_bit_mime,
            ParamExtension::BinaryMime => self.binary_mime && self.chunking,
            ParamExtension::RequireTls => self.require_tls,
            ParamExtension::MtPriority => self.mt_priority.is_some(),
            ParamExtension::FutureRelease => self.future_release.is_some(),
            ParamExtension::DeliverBy => self.deliver_by.is_some(),
            ParamExtension::Auth => !self.auth.is_empty(),
            ParamExtension::Dsn => self.dsn,
            ParamExtension::SmtpUtf8 => self.smtp_utf8,
        }
    }
}
