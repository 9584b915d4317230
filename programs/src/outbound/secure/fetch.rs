//! Fetching a domain's MTA-STS policy (RFC 8461 §3.3): `GET
//! /.well-known/mta-sts.txt` from `mta-sts.<domain>` over HTTPS whose
//! certificate verifies (WebPKI) for that name; only a `200` with a
//! `text/plain` body counts, redirects are not followed, no HTTP cache is
//! used, the body is read up to [`MAX_POLICY_SIZE`] and the whole fetch has
//! [`FETCH_TIMEOUT`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hickory_resolver::TokioResolver;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::RootCertStore;
use smtpwire::delivery::mta_sts::{Policy, MAX_POLICY_SIZE};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::report::ResultType;

/// The longest a whole fetch may take: connect, handshake, request and
/// body (RFC 8461 §3.3 asks for a timeout, without a number).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The path of the policy on the policy host (RFC 8461 §3.3).
const WELL_KNOWN: &str = "/.well-known/mta-sts.txt";

/// Why no policy came, with its TLS reporting result type (RFC 8460
/// §4.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    /// `sts-policy-fetch-error`, `sts-policy-invalid` or
    /// `sts-webpki-invalid`.
    pub result: ResultType,
    /// What happened.
    pub detail: String,
}

impl FetchError {
    fn fetch(detail: impl Into<String>) -> FetchError {
        FetchError {
            result: ResultType::StsPolicyFetchError,
            detail: detail.into(),
        }
    }

    fn invalid(detail: impl Into<String>) -> FetchError {
        FetchError {
            result: ResultType::StsPolicyInvalid,
            detail: detail.into(),
        }
    }
}

/// How policies are fetched.
#[derive(Clone)]
pub struct Fetcher {
    /// Where `mta-sts.<domain>` is looked up.
    pub resolver: Option<TokioResolver>,
    /// What the policy host's certificate must chain to.
    pub roots: Arc<RootCertStore>,
    /// The HTTPS port.
    pub port: u16,
}

impl Fetcher {
    /// `domain`'s policy, or why there is none.
    pub async fn fetch(&self, domain: &str) -> Result<Policy, FetchError> {
        let host = format!("mta-sts.{}", domain.trim_end_matches('.'));
        match tokio::time::timeout(FETCH_TIMEOUT, self.fetch_from(&host)).await {
            Ok(fetched) => fetched,
            Err(_) => Err(FetchError::fetch(format!(
                "{host}: no policy within {FETCH_TIMEOUT:?}"
            ))),
        }
    }

    /// From the first address of `host` that takes the connection: a
    /// certificate or a policy that is wrong is the domain's answer, not a
    /// reason to ask another address.
    async fn fetch_from(&self, host: &str) -> Result<Policy, FetchError> {
        let mut last = FetchError::fetch(format!("{host}: no address"));
        for ip in self.addresses(host).await? {
            let address = SocketAddr::new(ip, self.port);
            match TcpStream::connect(address).await {
                Ok(tcp) => return self.fetch_over(host, address, tcp).await,
                Err(error) => {
                    last = FetchError::fetch(format!("{host} ({address}): {error}"));
                }
            }
        }
        Err(last)
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, FetchError> {
        let Some(resolver) = &self.resolver else {
            return Err(FetchError::fetch("no DNS resolver"));
        };
        let lookup = resolver
            .lookup_ip(format!("{host}."))
            .await
            .map_err(|error| FetchError::fetch(format!("{host}: {error}")))?;
        Ok(lookup.iter().collect())
    }

    async fn fetch_over(
        &self,
        host: &str,
        address: SocketAddr,
        tcp: TcpStream,
    ) -> Result<Policy, FetchError> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| FetchError::fetch(format!("{host}: not a TLS server name")))?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| FetchError::fetch(error.to_string()))?
        .with_root_certificates(self.roots.clone())
        .with_no_client_auth();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|error| FetchError {
                result: ResultType::StsWebpkiInvalid,
                detail: format!("{host} ({address}): {error}"),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|error| FetchError::fetch(format!("{host}: {error}")))?;
        // The connection's task ends with the connection, when the fetch
        // drops the sender or the timeout drops the fetch.
        let driving = tokio::spawn(connection);
        let request = Request::get(WELL_KNOWN)
            .header(HOST, host)
            .body(Empty::<Bytes>::new())
            .map_err(|error| FetchError::fetch(error.to_string()))?;
        let response = sender.send_request(request).await;
        let fetched = match response {
            Ok(response) => read_policy(host, response).await,
            Err(error) => Err(FetchError::fetch(format!("{host}: {error}"))),
        };
        drop(sender);
        driving.abort();
        fetched
    }
}

/// The policy in `response`: a `200` (RFC 8461 §3.3: "senders MUST NOT
/// follow redirects"), `text/plain`, at most [`MAX_POLICY_SIZE`].
async fn read_policy(
    host: &str,
    response: hyper::Response<hyper::body::Incoming>,
) -> Result<Policy, FetchError> {
    if response.status() != StatusCode::OK {
        return Err(FetchError::fetch(format!(
            "{host}: HTTP status {}",
            response.status()
        )));
    }
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/plain"));
    if !plain {
        return Err(FetchError::invalid(format!("{host}: not text/plain")));
    }
    let body = Limited::new(response.into_body(), MAX_POLICY_SIZE)
        .collect()
        .await
        .map_err(|error| FetchError::invalid(format!("{host}: body: {error}")))?
        .to_bytes();
    Policy::parse(&body).map_err(|error| FetchError::invalid(format!("{host}: {error}")))
}
