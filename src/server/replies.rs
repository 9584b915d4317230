//! The replies the server session gives on its own, each with the code and
//! enhanced status code its RFC asks for.

use crate::reply::{EnhancedStatusCode as Esc, Reply, ReplyCode};
use crate::Text;

/// A fixed reply: code, enhanced status code (sent when ENHANCEDSTATUSCODES is
/// advertised) and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Canned {
    pub code: ReplyCode,
    /// `None` on 3yz replies: RFC 3463 classes are 2, 4 and 5 only.
    pub enhanced: Option<Esc>,
    pub text: &'static str,
}

impl Canned {
    /// The reply with its enhanced status code.
    pub(crate) fn to_reply(self) -> Reply {
        self.with_text(Text::from_static(self.text), true)
    }

    /// The reply with another text, and the enhanced code only if asked for.
    pub(crate) fn with_text(self, text: Text, enhanced: bool) -> Reply {
        match self.enhanced.filter(|_| enhanced) {
            // Every canned pair agrees in class, so the fallback never runs.
            Some(code) => Reply::with_enhanced(self.code, code, text.clone())
                .unwrap_or_else(|_| Reply::new(self.code, text)),
            None => Reply::new(self.code, text),
        }
    }
}

const fn canned(code: u16, enhanced: (u8, u16, u16), text: &'static str) -> Canned {
    Canned {
        code: ReplyCode::new_const(code),
        enhanced: Some(Esc::new_const(enhanced.0, enhanced.1, enhanced.2)),
        text,
    }
}

// RFC 5321 §4.2.2 and §4.3.2 give the codes; RFC 3463 and RFC 5248 the
// enhanced ones.
pub(crate) const OK: Canned = canned(250, (2, 0, 0), "Ok");
pub(crate) const SENDER_OK: Canned = canned(250, (2, 1, 0), "Sender ok");
pub(crate) const RECIPIENT_OK: Canned = canned(250, (2, 1, 5), "Recipient ok");
pub(crate) const MESSAGE_OK: Canned = canned(250, (2, 0, 0), "Message accepted");
pub(crate) const CHUNK_OK: Canned = canned(250, (2, 0, 0), "Chunk received");
pub(crate) const START_DATA: Canned = Canned {
    code: ReplyCode::new_const(354),
    enhanced: None,
    text: "End data with <CR><LF>.<CR><LF>",
};
pub(crate) const HELP: Canned = canned(214, (2, 0, 0), "See RFC 5321");
pub(crate) const CANNOT_VERIFY: Canned =
    canned(252, (2, 5, 0), "Cannot verify, but will accept the message");
pub(crate) const ETRN_OK: Canned = canned(250, (2, 0, 0), "Queuing started");
pub(crate) const BYE: Canned = canned(221, (2, 0, 0), "Bye");
pub(crate) const READY_FOR_TLS: Canned = canned(220, (2, 0, 0), "Ready to start TLS");
pub(crate) const AUTH_OK: Canned = canned(235, (2, 7, 0), "Authentication succeeded");

pub(crate) const SHUTTING_DOWN: Canned = canned(421, (4, 3, 2), "Service shutting down");
pub(crate) const TIMEOUT: Canned = canned(421, (4, 4, 2), "Timeout exceeded");
pub(crate) const TOO_MANY_ERRORS: Canned = canned(421, (4, 7, 0), "Too many errors");
pub(crate) const TOO_MANY_JUNK: Canned = canned(421, (4, 7, 0), "Too many commands without mail");
pub(crate) const TOO_MANY_RECIPIENTS: Canned = canned(452, (4, 5, 3), "Too many recipients");
pub(crate) const UNAVAILABLE: Canned =
    canned(451, (4, 3, 0), "Requested action aborted: try again later");

pub(crate) const UNRECOGNIZED: Canned = canned(500, (5, 5, 1), "Command unrecognized");
pub(crate) const LINE_TOO_LONG: Canned = canned(500, (5, 5, 2), "Line too long");
pub(crate) const BARE_LF_COMMAND: Canned = canned(500, (5, 5, 2), "Bare <LF> in command");
pub(crate) const USE_LHLO: Canned = canned(500, (5, 5, 1), "This is an LMTP server: use LHLO");
pub(crate) const SYNTAX: Canned = canned(501, (5, 5, 4), "Syntax error in parameters or arguments");
pub(crate) const NOT_IMPLEMENTED: Canned = canned(502, (5, 5, 1), "Command not implemented");
pub(crate) const NEED_HELLO: Canned = canned(503, (5, 5, 1), "Send EHLO first");
pub(crate) const NESTED_MAIL: Canned = canned(503, (5, 5, 1), "Sender already given");
pub(crate) const NEED_MAIL: Canned = canned(503, (5, 5, 1), "Need MAIL first");
pub(crate) const NEED_RECIPIENT: Canned = canned(554, (5, 5, 1), "No valid recipients");
pub(crate) const NEED_RECIPIENT_LMTP: Canned = canned(503, (5, 5, 1), "No valid recipients");
pub(crate) const RCPT_AFTER_CONTENT: Canned =
    canned(503, (5, 5, 1), "Recipients come before the content");
pub(crate) const DATA_AFTER_BDAT: Canned = canned(503, (5, 5, 1), "DATA and BDAT cannot be mixed");
pub(crate) const BINARY_NEEDS_BDAT: Canned = canned(503, (5, 6, 1), "BODY=BINARYMIME needs BDAT");
pub(crate) const TLS_ACTIVE: Canned = canned(503, (5, 5, 1), "TLS already active");
pub(crate) const AUTH_DONE: Canned = canned(503, (5, 5, 1), "Already authenticated");
pub(crate) const AUTH_IN_TRANSACTION: Canned =
    canned(503, (5, 5, 1), "AUTH not allowed during a mail transaction");
pub(crate) const BAD_MECHANISM: Canned =
    canned(504, (5, 5, 4), "Unrecognized authentication mechanism");
pub(crate) const AUTH_REQUIRED: Canned = canned(530, (5, 7, 0), "Authentication required");
pub(crate) const AUTH_FAILED: Canned = canned(535, (5, 7, 8), "Authentication credentials invalid");
pub(crate) const ENCRYPTION_REQUIRED: Canned = canned(
    538,
    (5, 7, 11),
    "Encryption required for requested authentication mechanism",
);
pub(crate) const TOO_BIG: Canned = canned(552, (5, 3, 4), "Message size exceeds fixed limit");
pub(crate) const NEEDS_SMTPUTF8: Canned =
    canned(553, (5, 6, 7), "Non-ASCII address needs SMTPUTF8");
pub(crate) const BARE_NEWLINE: Canned =
    canned(550, (5, 6, 0), "Bare <CR> or <LF> in message content");
pub(crate) const CONTENT_LINE_TOO_LONG: Canned = canned(500, (5, 5, 2), "Message line too long");
pub(crate) const REFUSED: Canned = canned(554, (5, 7, 1), "Service refused");
pub(crate) const EARLY_TALKER: Canned = canned(554, (5, 5, 1), "Input before greeting");
pub(crate) const PIPELINED_STARTTLS: Canned =
    canned(554, (5, 5, 1), "Input pipelined after STARTTLS");
pub(crate) const BAD_PROXY: Canned = canned(554, (5, 5, 1), "Invalid PROXY protocol header");
pub(crate) const NO_SERVICE: Canned = canned(503, (5, 5, 1), "No service here: QUIT");
pub(crate) const UNSUPPORTED_PARAMETER: Canned = canned(
    555,
    (5, 5, 4),
    "Parameter not recognized or not implemented",
);
pub(crate) const REQUIRETLS_NEEDS_TLS: Canned =
    canned(530, (5, 7, 10), "REQUIRETLS needs a TLS session");
pub(crate) const SENDER_CONTROLS: Canned =
    canned(553, (5, 1, 7), "Control characters in sender address");
pub(crate) const RECIPIENT_CONTROLS: Canned =
    canned(553, (5, 1, 3), "Control characters in recipient address");
pub(crate) const OUT_OF_SYNC: Canned = canned(
    554,
    (5, 5, 0),
    "Input sent before the reply it had to wait for (RFC 2920)",
);
pub(crate) const NOT_SMTP: Canned = canned(221, (2, 7, 0), "This is an SMTP server: goodbye");
pub(crate) const BAD_BDAT: Canned = canned(521, (5, 5, 4), "Malformed BDAT: cannot read on");
pub(crate) const CHUNK_TOO_BIG: Canned =
    canned(552, (5, 3, 4), "Chunk exceeds the message size limit");
pub(crate) const NULL_BDAT: Canned = canned(551, (5, 7, 1), "Null BDAT request");
pub(crate) const REJECTED: Canned = canned(550, (5, 7, 1), "Rejected");
pub(crate) const VERIFIED: Canned = canned(250, (2, 1, 5), "Ok");
pub(crate) const CHUNK_AFTER_FAILURE: Canned =
    canned(503, (5, 5, 1), "Transaction failed: send RSET");

/// The reply to a command line that does not parse.
pub(crate) fn for_command_error(err: &crate::command::CommandError) -> Canned {
    Canned {
        code: err.reply_code(),
        enhanced: Some(err.enhanced_status()),
        text: "Syntax error",
    }
}

/// The reply to a SASL exchange that failed.
pub(crate) fn for_auth_error(err: &crate::auth::AuthError) -> Canned {
    Canned {
        code: err.reply_code(),
        enhanced: Some(err.enhanced_code()),
        text: "Authentication failed",
    }
}
