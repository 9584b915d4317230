//! What the application decides: one method per request of the session.

use std::future::Future;

use bytes::Bytes;
use smtpwire::auth::StoredKeys;
use smtpwire::proxy::ProxyHeader;
use smtpwire::reply::{EnhancedStatusCode, Reply, ReplyCode};
use smtpwire::server::{
    AbortReason, AuthKeysRequest, AuthRequest, CloseReason, DataRequest, HelloRequest, MailRequest,
    MessageRequest, RcptRequest, Reject, VerifyRequest,
};
use smtpwire::Text;

use super::TlsSession;

/// The application's side of one connection.
///
/// The server makes one handler per connection and calls it for each
/// decision the session asks for, in order. Every method has a default,
/// and the defaults are safe: every client is served, AUTH is refused
/// (nothing can check the credentials), every sender and recipient is
/// accepted and every message is taken and dropped, as a test sink would;
/// VRFY and EXPN get 252. Nothing is relayed unless the handler does it.
///
/// Write the methods as `async fn`; the futures must be `Send`, since each
/// connection runs on a task of its own.
///
/// ```
/// use smtpwire::server::{MessageRequest, RcptRequest, Reject};
/// use smtpwire_tokio::server::{refuse, Handler};
///
/// struct Policy;
///
/// impl Handler for Policy {
///     async fn rcpt(&mut self, request: &RcptRequest) -> Result<(), Reject> {
///         match request.to().to_string().as_str() {
///             "<nobody@example.org>" => Err(refuse(550, "5.1.1", "No such user")),
///             _ => Ok(()),
///         }
///     }
///
///     async fn message(&mut self, request: &MessageRequest) -> Result<(), Reject> {
///         println!("{} octets", request.size());
///         Ok(())
///     }
/// }
/// ```
pub trait Handler: Send + 'static {
    /// A client connected (with its real address when the PROXY protocol
    /// is on): refuse to answer 554 instead of the greeting.
    fn connect(
        &mut self,
        proxy: Option<&ProxyHeader>,
    ) -> impl Future<Output = Result<(), Reject>> + Send {
        let _ = proxy;
        async { Ok(()) }
    }

    /// The connection became TLS after STARTTLS, with what the handshake
    /// settled on. As the session does (RFC 3207 §4.2), forget what the
    /// client said before: its HELO and its authentication are asked for
    /// again.
    fn tls_established(&mut self, session: &TlsSession) {
        let _ = session;
    }

    /// HELO, EHLO or LHLO.
    fn hello(&mut self, request: &HelloRequest) -> impl Future<Output = Result<(), Reject>> + Send {
        let _ = request;
        async { Ok(()) }
    }

    /// Credentials from a finished SASL exchange: check them. Refused by
    /// default, with 535 5.7.8.
    fn auth(&mut self, request: &AuthRequest) -> impl Future<Output = Result<(), Reject>> + Send {
        let _ = request;
        async { Err(refuse(535, "5.7.8", "Authentication credentials invalid")) }
    }

    /// A SCRAM exchange needs the stored keys of
    /// [`request.user()`](AuthKeysRequest::user): `Ok(None)` for a user
    /// without keys (the exchange then fails at the proof, as a wrong
    /// password does), `Err` to end it with that reply (454 4.7.0 when the
    /// user database cannot be reached). The proof is checked by the
    /// session; [`auth`](Self::auth) is then asked about the verified
    /// identity. No keys by default.
    fn scram_keys(
        &mut self,
        request: &AuthKeysRequest,
    ) -> impl Future<Output = Result<Option<StoredKeys>, Reject>> + Send {
        let _ = request;
        async { Ok(None) }
    }

    /// MAIL FROM, already checked against what the server offers.
    fn mail(&mut self, request: &MailRequest) -> impl Future<Output = Result<(), Reject>> + Send {
        let _ = request;
        async { Ok(()) }
    }

    /// RCPT TO. Whether the server relays to this recipient is this
    /// method's decision.
    fn rcpt(&mut self, request: &RcptRequest) -> impl Future<Output = Result<(), Reject>> + Send {
        let _ = request;
        async { Ok(()) }
    }

    /// DATA or the first BDAT: refuse if the message cannot be taken now
    /// (no room to store it, say).
    fn data(&mut self, request: &DataRequest) -> impl Future<Output = Result<(), Reject>> + Send {
        let _ = request;
        async { Ok(()) }
    }

    /// A piece of the message's content, unstuffed, in order; the pieces
    /// of one message arrive between [`data`](Self::data) and
    /// [`message`](Self::message) or [`aborted`](Self::aborted). The
    /// message is never held whole by the server.
    fn content(&mut self, chunk: Bytes) -> impl Future<Output = ()> + Send {
        let _ = chunk;
        async {}
    }

    /// The end of a message: accept to take responsibility for it (RFC
    /// 5321 §6.1), only once it is stored.
    fn message(
        &mut self,
        request: &MessageRequest,
    ) -> impl Future<Output = Result<(), Reject>> + Send {
        let _ = request;
        async { Ok(()) }
    }

    /// LMTP (RFC 2033 §4.2): the end of a message, with one outcome per
    /// recipient in the order of [`MessageRequest::recipients`]. By default
    /// [`message`](Self::message)'s outcome for all of them. In SMTP the
    /// first outcome answers the whole message.
    fn deliver(
        &mut self,
        request: &MessageRequest,
    ) -> impl Future<Output = Vec<Result<(), Reject>>> + Send {
        async move {
            let outcome = self.message(request).await;
            vec![outcome; request.recipients().len().max(1)]
        }
    }

    /// The name the message just accepted is known by (a queue id, a file
    /// name), asked after [`deliver`](Self::deliver) accepted an SMTP
    /// message: the reply then says `queued as` it, so that the client can
    /// quote it to the server's operator. None by default.
    fn queue_id(&mut self) -> Option<Text> {
        None
    }

    /// The open transaction ended without a message: drop the content
    /// given so far.
    fn aborted(&mut self, reason: AbortReason) -> impl Future<Output = ()> + Send {
        let _ = reason;
        async {}
    }

    /// VRFY or EXPN: `Ok(None)` answers 252 (RFC 5321 §3.5.3), `Ok(Some)`
    /// a 250 with that text.
    fn verify(
        &mut self,
        request: &VerifyRequest,
    ) -> impl Future<Output = Result<Option<Text>, Reject>> + Send {
        let _ = request;
        async { Ok(None) }
    }

    /// The connection is over: why the session closed it, or `None` when
    /// the transport failed first (a reset, a write that timed out, a
    /// failed TLS handshake). Not called for a connection refused over a
    /// cap on connections before [`connect`](Self::connect) was.
    fn closed(&mut self, reason: Option<CloseReason>) -> impl Future<Output = ()> + Send {
        let _ = reason;
        async {}
    }
}

/// A refusal in one call: `code` 4xx or 5xx, `enhanced` such as `"5.1.1"`
/// (RFC 3463), and the text.
///
/// Built from literals in a handler, it never fails: a code that is not a
/// refusal, or parts that do not fit together, give 451 4.3.0 with the
/// text, so a mistake delays mail rather than accepting or losing it.
pub fn refuse(code: u16, enhanced: &str, text: &str) -> Reject {
    let built = || {
        let code = ReplyCode::new(code).ok()?;
        let enhanced = enhanced.parse::<EnhancedStatusCode>().ok()?;
        let text = Text::new(text).ok()?;
        Reject::new(Reply::with_enhanced(code, enhanced, text).ok()?).ok()
    };
    built().unwrap_or_else(Reject::temporary)
}

#[cfg(test)]
mod tests {
    use super::refuse;

    #[test]
    fn refusals_are_built_from_their_parts() {
        let reject = refuse(550, "5.1.1", "No such user");
        assert_eq!(reject.reply().code().as_u16(), 550);
        assert_eq!(reject.reply().enhanced().unwrap().to_string(), "5.1.1");
        for (code, enhanced) in [(250, "2.0.0"), (550, "4.1.1"), (550, "x")] {
            let reject = refuse(code, enhanced, "No");
            assert_eq!(reject.reply().code().as_u16(), 451, "{code} {enhanced}");
        }
    }
}
