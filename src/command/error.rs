//! Why a command line is not a valid command, and how a server answers that.

use crate::address::AddressError;
use crate::auth::MechanismError;
use crate::params::ParamError;
use crate::reply::{EnhancedStatusCode, ReplyCode};
use crate::TextError;

/// Why a command line cannot be parsed.
///
/// [`CommandError::reply_code`] and [`CommandError::enhanced_status`] give the
/// reply a server sends:
///
/// | error | reply |
/// |---|---|
/// | empty line, CR/LF/NUL, invalid UTF-8 | 500 5.5.2 (line not understood) |
/// | syntax, missing or extra argument, BDAT size, AUTH arguments | 501 5.5.2 |
/// | sender or recipient mailbox syntax | 553 5.1.7 / 5.1.3 (RFC 5321 §4.2.2: "mailbox syntax incorrect") |
/// | sender or recipient too long | 501 5.1.7 / 5.1.3 (RFC 5321 §4.5.3.1: "501 Path too long") |
/// | `HELO`/`EHLO` host, or one that is not ASCII | 501 5.5.2 |
/// | parameter value, duplicate, encoding | 501 5.5.4 (RFC 3463: invalid command arguments) |
///
/// An unrecognized `MAIL`/`RCPT` parameter is not an error here: it is kept
/// in `other`, and answering it with 555 5.5.4 (RFC 5321 §4.1.1.11) is up to
/// the session, which knows which extensions it offers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The line is empty (or only whitespace).
    #[error("empty command line")]
    Empty,
    /// CR, LF or NUL inside the line (RFC 5321 §2.3.8, §4.1.1).
    #[error("byte {byte:#04x} at offset {offset} is not allowed in a command")]
    ForbiddenByte {
        /// The byte.
        byte: u8,
        /// Its offset in the line.
        offset: usize,
    },
    /// The line is not UTF-8.
    #[error("invalid UTF-8 at offset {offset}")]
    InvalidUtf8 {
        /// Where the first invalid sequence starts.
        offset: usize,
    },
    /// The command does not follow its grammar.
    #[error("{verb}: expected {expected}")]
    Syntax {
        /// The command.
        verb: &'static str,
        /// What the grammar wants at the point of failure.
        expected: &'static str,
    },
    /// The command takes no argument but has one.
    #[error("{verb} takes no argument")]
    UnexpectedArgument {
        /// The command.
        verb: &'static str,
    },
    /// The command needs an argument.
    #[error("{verb} needs an argument")]
    MissingArgument {
        /// The command.
        verb: &'static str,
    },
    /// The host of `HELO`, `EHLO` or `LHLO` is invalid.
    #[error("{verb}: {source}")]
    Host {
        /// The command.
        verb: &'static str,
        /// What is wrong with the host.
        source: AddressError,
    },
    /// The host of `HELO`, `EHLO` or `LHLO` is not ASCII: RFC 6531 §3.7.1
    /// keeps the hello name ASCII, with IDNs in A-label form.
    #[error("{verb}: the host must be ASCII (IDNs as A-labels)")]
    NonAsciiHost {
        /// The command.
        verb: &'static str,
    },
    /// The reverse path of `MAIL` is invalid.
    #[error("invalid sender: {0}")]
    ReversePath(#[source] AddressError),
    /// The forward path of `RCPT` is invalid.
    #[error("invalid recipient: {0}")]
    ForwardPath(#[source] AddressError),
    /// A `MAIL` or `RCPT` parameter is invalid.
    #[error(transparent)]
    Parameter(#[from] ParamError),
    /// The `BDAT` chunk size does not fit in 64 bits.
    #[error("BDAT chunk size too large")]
    BdatSizeOverflow,
    /// The `AUTH` mechanism name is not `1*20(ALPHA / DIGIT / "-" / "_")`
    /// (RFC 4422 §3.1).
    #[error("invalid AUTH mechanism: {0}")]
    InvalidMechanism(#[source] MechanismError),
    /// The `AUTH` initial response is neither base64 nor `=`.
    #[error("invalid AUTH initial response")]
    InvalidInitialResponse,
    /// A free-text argument built by a caller is empty, has surrounding
    /// whitespace, or holds CR, LF or NUL.
    #[error("invalid argument")]
    InvalidArgument,
}

impl CommandError {
    /// The reply code a server answers this error with; see the table above.
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            CommandError::Empty
            | CommandError::ForbiddenByte { .. }
            | CommandError::InvalidUtf8 { .. } => ReplyCode::SYNTAX_ERROR,
            CommandError::ReversePath(err) | CommandError::ForwardPath(err) if !err.is_length() => {
                ReplyCode::MAILBOX_NAME_NOT_ALLOWED
            }
            _ => ReplyCode::PARAMETER_SYNTAX_ERROR,
        }
    }

    /// The enhanced status code (RFC 3463) to go with [`Self::reply_code`].
    pub fn enhanced_status(&self) -> EnhancedStatusCode {
        match self {
            // RFC 3463 §3.2: 5.1.7 bad sender, 5.1.3 bad destination syntax.
            CommandError::ReversePath(_) => EnhancedStatusCode::new_const(5, 1, 7),
            CommandError::ForwardPath(_) => EnhancedStatusCode::new_const(5, 1, 3),
            CommandError::Parameter(_) => EnhancedStatusCode::INVALID_ARGUMENTS,
            _ => EnhancedStatusCode::SYNTAX_ERROR,
        }
    }
}

impl From<TextError> for CommandError {
    fn from(err: TextError) -> Self {
        match err {
            TextError::ForbiddenByte { byte, offset } => {
                CommandError::ForbiddenByte { byte, offset }
            }
            TextError::InvalidUtf8 { offset } => CommandError::InvalidUtf8 { offset },
        }
    }
}
