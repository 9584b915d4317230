//! SMTP and LMTP commands (RFC 5321 §4.1, RFC 2033 and the extensions):
//! parsed from one line and written back, exactly.

mod error;
mod parse;

pub use error::CommandError;
pub use parse::ParseOptions;

use crate::address::{Domain, ForwardPath, Host, ReversePath};
use crate::auth::Mechanism;
use crate::params::{MailParameters, RcptParameters};
use crate::Text;
use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;

/// One command, as a client sends it and a server receives it.
///
/// Parse a line (without its CRLF, as [`LineFramer`](crate::framing::LineFramer)
/// yields it) with [`Command::parse`]; every text field of the result is a
/// slice of that line. Write one with [`Command::emit`], which cannot fail:
/// every field was checked when it was built.
///
/// ```
/// use bytes::Bytes;
/// use smtpwire::{Command, ReversePath};
///
/// let line = Bytes::from_static(b"MAIL FROM:<alice@example.org> SIZE=1024 BODY=8BITMIME");
/// let Command::Mail { from, params } = Command::parse(&line).unwrap() else { panic!() };
/// assert_eq!(from, ReversePath::parse("<alice@example.org>").unwrap());
/// assert_eq!(params.size, Some(1024));
///
/// let mut out = Vec::new();
/// Command::mail(from, params).emit(&mut out);
/// assert_eq!(out, b"MAIL FROM:<alice@example.org> SIZE=1024 BODY=8BITMIME\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `HELO domain` (RFC 5321 §4.1.1.1).
    Helo {
        /// The client's name.
        domain: Domain,
    },
    /// `EHLO domain-or-literal` (RFC 5321 §4.1.1.1).
    Ehlo {
        /// The client's name or address.
        host: Host,
    },
    /// `LHLO domain-or-literal` (RFC 2033 §4.1).
    Lhlo {
        /// The client's name or address.
        host: Host,
    },
    /// `MAIL FROM:<reverse-path> [parameters]` (RFC 5321 §4.1.1.2).
    Mail {
        /// The sender.
        from: ReversePath,
        /// ESMTP parameters.
        params: MailParameters,
    },
    /// `RCPT TO:<forward-path> [parameters]` (RFC 5321 §4.1.1.3).
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// ESMTP parameters.
        params: RcptParameters,
    },
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat {
        /// Octets of message data that follow the line.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `VRFY string` (RFC 5321 §4.1.1.6).
    Vrfy {
        /// The user or mailbox to verify.
        arg: Argument,
    },
    /// `EXPN string` (RFC 5321 §4.1.1.7).
    Expn {
        /// The list to expand.
        arg: Argument,
    },
    /// `HELP [string]` (RFC 5321 §4.1.1.8).
    Help {
        /// The topic.
        arg: Option<Argument>,
    },
    /// `NOOP [string]` (RFC 5321 §4.1.1.9).
    Noop {
        /// Ignored text.
        arg: Option<Argument>,
    },
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth {
        /// The SASL mechanism; names are case-insensitive and written in
        /// upper case.
        mechanism: Mechanism,
        /// The initial response: `None` when absent, which differs from an
        /// empty one (`=`).
        initial_response: Option<InitialResponse>,
    },
    /// `ETRN node` (RFC 1985 §5).
    Etrn {
        /// The domain or queue to run.
        arg: Argument,
    },
    /// Any other verb, for the session to answer (500 or 502).
    Unknown {
        /// The verb as sent.
        verb: UnknownVerb,
        /// Everything after the space that follows the verb.
        args: Option<Argument>,
    },
}

impl Command {
    /// `HELO domain`. The name goes as it is: give an IDN as A-labels, since
    /// servers refuse a hello name that is not ASCII (RFC 6531 §3.7.1).
    pub fn helo(domain: Domain) -> Self {
        Command::Helo { domain }
    }

    /// `EHLO host`, the name as ASCII as for [`Command::helo`].
    pub fn ehlo(host: impl Into<Host>) -> Self {
        Command::Ehlo { host: host.into() }
    }

    /// `LHLO host`, the name as ASCII as for [`Command::helo`].
    pub fn lhlo(host: impl Into<Host>) -> Self {
        Command::Lhlo { host: host.into() }
    }

    /// `MAIL FROM:<from> params`.
    pub fn mail(from: ReversePath, params: MailParameters) -> Self {
        Command::Mail { from, params }
    }

    /// `RCPT TO:<to> params`.
    pub fn rcpt(to: ForwardPath, params: RcptParameters) -> Self {
        Command::Rcpt { to, params }
    }

    /// `BDAT size [LAST]`.
    pub fn bdat(size: u64, last: bool) -> Self {
        Command::Bdat { size, last }
    }

    /// `AUTH mechanism [initial-response]`.
    pub fn auth(mechanism: Mechanism, initial_response: Option<InitialResponse>) -> Self {
        Command::Auth {
            mechanism,
            initial_response,
        }
    }

    /// The verb in upper case, or an unknown verb as it was sent.
    pub fn verb(&self) -> &str {
        match self {
            Command::Helo { .. } => "HELO",
            Command::Ehlo { .. } => "EHLO",
            Command::Lhlo { .. } => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Vrfy { .. } => "VRFY",
            Command::Expn { .. } => "EXPN",
            Command::Help { .. } => "HELP",
            Command::Noop { .. } => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Etrn { .. } => "ETRN",
            Command::Unknown { verb, .. } => verb.as_str(),
        }
    }

    /// Writes the command line, CRLF included.
    ///
    /// Writes through [`BufMut::put_slice`], so `out` must be able to grow
    /// (a `Vec<u8>` or `BytesMut`) or have room for the line.
    pub fn emit(&self, out: &mut impl BufMut) {
        // The sink never fails and every field is already valid, so there is
        // no error to report.
        let _ = fmt::write(&mut BufMutWriter(out), format_args!("{self}\r\n"));
    }

    /// The command line with its CRLF, in a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.emit(&mut out);
        out.freeze()
    }
}

/// Lets `Display` impls write straight into a [`BufMut`].
struct BufMutWriter<'a, B>(&'a mut B);

impl<B: BufMut> fmt::Write for BufMutWriter<'_, B> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

impl fmt::Display for Command {
    /// The command line without CRLF. For `AUTH` this includes the initial
    /// response; log with `Debug`, which redacts it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = self.verb();
        match self {
            Command::Helo { domain } => write!(f, "{verb} {domain}"),
            Command::Ehlo { host } | Command::Lhlo { host } => write!(f, "{verb} {host}"),
            Command::Mail { from, params } => write!(f, "MAIL FROM:{from}{params}"),
            Command::Rcpt { to, params } => write!(f, "RCPT TO:{to}{params}"),
            Command::Bdat { size, last } => {
                write!(f, "BDAT {size}{}", if *last { " LAST" } else { "" })
            }
            Command::Vrfy { arg } | Command::Expn { arg } | Command::Etrn { arg } => {
                write!(f, "{verb} {arg}")
            }
            Command::Help { arg } | Command::Noop { arg } | Command::Unknown { args: arg, .. } => {
                f.write_str(verb)?;
                match arg {
                    Some(arg) => write!(f, " {arg}"),
                    None => Ok(()),
                }
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                write!(f, "AUTH {mechanism}")?;
                match initial_response {
                    Some(response) => write!(f, " {}", response.wire()),
                    None => Ok(()),
                }
            }
            Command::Data | Command::Rset | Command::Quit | Command::StartTls => f.write_str(verb),
        }
    }
}

/// Free text after a verb (`VRFY`, `EXPN`, `HELP`, `NOOP`, `ETRN`, unknown
/// verbs): non-empty, without CR, LF or NUL, and without leading or trailing
/// whitespace, so that it reads back exactly as written.
///
/// RFC 5321 §4.1.1.6 gives `VRFY` a `String` (atom or quoted-string), but
/// §3.5 expects user names and mailboxes there, which an atom cannot hold,
/// so any such text is taken.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Argument(Text);

impl Argument {
    /// Checks and copies `value`.
    pub fn new(value: &str) -> Result<Self, CommandError> {
        if !is_trimmed_argument(value.as_bytes()) {
            return Err(CommandError::InvalidArgument);
        }
        Text::new(value)
            .map(Argument)
            .map_err(|_| CommandError::InvalidArgument)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The text as a [`Text`].
    pub fn as_text(&self) -> &Text {
        &self.0
    }
}

fn is_blank(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t')
}

fn is_trimmed_argument(value: &[u8]) -> bool {
    match (value.first(), value.last()) {
        (Some(first), Some(last)) => !is_blank(first) && !is_blank(last),
        _ => false,
    }
}

impl fmt::Display for Argument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verb this crate does not know: non-empty, no space, not one of the
/// verbs [`Command`] has a variant for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownVerb(Text);

impl UnknownVerb {
    /// Checks and copies `verb`.
    pub fn new(verb: &str) -> Result<Self, CommandError> {
        let bytes = verb.as_bytes();
        let known = parse::known_verb(bytes).is_some();
        if bytes.is_empty() || bytes.contains(&b' ') || known || !is_trimmed_argument(bytes) {
            return Err(CommandError::InvalidArgument);
        }
        Text::new(verb)
            .map(UnknownVerb)
            .map_err(|_| CommandError::InvalidArgument)
    }

    /// The verb as sent.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for UnknownVerb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The initial response of `AUTH` (RFC 4954 §4): base64, or `=` for a
/// response that is present but empty. Its `Debug` output hides the data,
/// which usually holds credentials.
///
/// ```
/// use smtpwire::InitialResponse;
///
/// let response = InitialResponse::base64("AGFsaWNlAHNlY3JldA==").unwrap();
/// assert_eq!(format!("{response:?}"), "InitialResponse(<20 octets redacted>)");
/// assert!(InitialResponse::empty().is_empty());
/// assert!(InitialResponse::base64("not base64!").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InitialResponse(Option<Text>);

impl InitialResponse {
    /// `=`: an empty initial response.
    pub fn empty() -> Self {
        InitialResponse(None)
    }

    /// A base64 initial response, checked for alphabet and padding; decoding
    /// is left to the SASL layer.
    pub fn base64(encoded: &str) -> Result<Self, CommandError> {
        if !is_base64(encoded.as_bytes()) {
            return Err(CommandError::InvalidInitialResponse);
        }
        Text::new(encoded)
            .map(|text| InitialResponse(Some(text)))
            .map_err(|_| CommandError::InvalidInitialResponse)
    }

    /// Whether the response is `=`.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The base64 text, unless the response is empty.
    pub fn as_base64(&self) -> Option<&str> {
        self.0.as_ref().map(Text::as_str)
    }

    fn wire(&self) -> &str {
        self.as_base64().unwrap_or("=")
    }
}

/// Base64 of RFC 4648 §4 with its padding: whole quanta, `=` only at the end.
fn is_base64(encoded: &[u8]) -> bool {
    let padding = encoded.iter().rev().take_while(|&&b| b == b'=').count();
    let data = encoded.get(..encoded.len() - padding).unwrap_or_default();
    !encoded.is_empty()
        && encoded.len() % 4 == 0
        && padding <= 2
        && data
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

impl fmt::Debug for InitialResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("InitialResponse(empty)"),
            Some(text) => write!(f, "InitialResponse(<{} octets redacted>)", text.len()),
        }
    }
}

#[cfg(test)]
mod tests;
