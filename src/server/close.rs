//! Why a server session ended.

/// Why a [`ServerSession`](super::ServerSession) closed, for logs and for
/// tools that act on them (fail2ban and the like).
///
/// [`ServerSession::close_reason`](super::ServerSession::close_reason) gives
/// it once [`ServerOutput::Closed`](super::ServerOutput::Closed) was returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent QUIT.
    Quit,
    /// The client closed the connection without QUIT.
    PeerClosed,
    /// The client took longer than the timeout (421 4.4.2).
    Timeout,
    /// Too many errors (421 4.7.0).
    TooManyErrors,
    /// Too many commands without mail (421 4.7.0).
    TooManyJunkCommands,
    /// Input arrived before the reply it had to wait for (RFC 2920 §3.1; 554
    /// 5.5.0).
    PipeliningSync,
    /// Input was pipelined behind STARTTLS (RFC 3207 §4.2, CVE-2011-0411).
    PipelinedStartTls,
    /// The client talked before the greeting.
    EarlyTalker,
    /// The PROXY protocol header was malformed.
    BadProxyHeader,
    /// An HTTP request or a header field where a command belongs: a browser,
    /// a proxy probe or a cross-protocol attack (221 2.7.0).
    NotSmtp,
    /// A BDAT command whose chunk the session cannot skip: its size does
    /// not parse, or is too large to read and throw away (RFC 3030 §2).
    UnframedChunk,
    /// The server shut the session down (421 4.3.2).
    Shutdown,
}

impl CloseReason {
    /// A short name for logs: lower case, words joined by hyphens.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Quit => "quit",
            CloseReason::PeerClosed => "peer-closed",
            CloseReason::Timeout => "timeout",
            CloseReason::TooManyErrors => "too-many-errors",
            CloseReason::TooManyJunkCommands => "too-many-junk-commands",
            CloseReason::PipeliningSync => "pipelining-sync",
            CloseReason::PipelinedStartTls => "pipelined-starttls",
            CloseReason::EarlyTalker => "early-talker",
            CloseReason::BadProxyHeader => "bad-proxy-header",
            CloseReason::NotSmtp => "not-smtp",
            CloseReason::UnframedChunk => "unframed-chunk",
            CloseReason::Shutdown => "shutdown",
        }
    }
}

impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
