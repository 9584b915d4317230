//! One record per delivery attempt in the terms of SMTP TLS reporting (RFC
//! 8460 §4.4): the policy that applied, the MX host and address, and the
//! result type of a failure (§4.3), in the log (an event `tls`) and, when
//! a file is named, as one JSON object per line there.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rustls::CertificateError;

/// The policy an attempt ran under (RFC 8460 §4.4, `policy-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    /// DANE TLSA records.
    Tlsa,
    /// An MTA-STS policy.
    Sts,
    /// Neither: opportunistic TLS.
    NoPolicyFound,
}

impl PolicyType {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Tlsa => "tlsa",
            PolicyType::Sts => "sts",
            PolicyType::NoPolicyFound => "no-policy-found",
        }
    }
}

/// Why TLS failed as a policy asks (RFC 8460 §4.3, `result-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    /// STARTTLS not offered, or refused (§4.3.1).
    StartTlsNotSupported,
    /// The certificate does not name the host.
    CertificateHostMismatch,
    /// The certificate has expired.
    CertificateExpired,
    /// The certificate does not chain to a trusted root.
    CertificateNotTrusted,
    /// Any other failure to validate.
    ValidationFailure,
    /// No TLSA record is usable (§4.3.2.1).
    TlsaInvalid,
    /// DNSSEC validation failed.
    DnssecInvalid,
    /// DANE is required but the host has no TLSA records.
    DaneRequired,
    /// The MTA-STS policy could not be fetched (§4.3.2.2).
    StsPolicyFetchError,
    /// The MTA-STS policy is not valid.
    StsPolicyInvalid,
    /// The policy host's certificate failed WebPKI validation.
    StsWebpkiInvalid,
}

impl ResultType {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::StartTlsNotSupported => "starttls-not-supported",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch",
            ResultType::CertificateExpired => "certificate-expired",
            ResultType::CertificateNotTrusted => "certificate-not-trusted",
            ResultType::ValidationFailure => "validation-failure",
            ResultType::TlsaInvalid => "tlsa-invalid",
            ResultType::DnssecInvalid => "dnssec-invalid",
            ResultType::DaneRequired => "dane-required",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
            ResultType::StsPolicyInvalid => "sts-policy-invalid",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }
}

/// What one attempt at an MX host came to.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The policy that applied: `sts`, `tlsa` or `no-policy-found`.
    pub policy: PolicyType,
    /// The recipient domain the policy is of.
    pub domain: &'a str,
    /// The MX host.
    pub mx_host: &'a str,
    /// The address connected to, if one answered.
    pub receiving_ip: Option<IpAddr>,
    /// `None` for a session with TLS as the policy asks; else why not.
    pub failure: Option<ResultType>,
    /// A word on the failure for the operator (the failure-reason-code).
    pub detail: Option<String>,
}

/// Where attempts are recorded.
#[derive(Debug, Default)]
pub struct TlsReports {
    file: Option<Mutex<File>>,
}

impl TlsReports {
    /// Records in the log, and in `file` (appended to) when given.
    pub fn open(file: Option<&Path>) -> io::Result<TlsReports> {
        let file = match file {
            Some(path) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        Ok(TlsReports { file })
    }

    /// Records `attempt`. A file that cannot be written is said in the log;
    /// the delivery goes on.
    pub fn record(&self, attempt: &Attempt<'_>) {
        let policy = attempt.policy.as_str();
        let result = attempt.failure.map_or("success", ResultType::as_str);
        let detail = attempt.detail.as_deref().unwrap_or("");
        tracing::info!(
            policy_type = policy,
            policy_domain = attempt.domain,
            mx_host = attempt.mx_host,
            receiving_ip = ?attempt.receiving_ip,
            result = result,
            detail = detail,
            "tls"
        );
        let Some(file) = &self.file else {
            return;
        };
        // Field names of the report's failure details (RFC 8460 §4.4).
        let line = serde_json::json!({
            "time": crate::outbound::unix_now(),
            "policy-type": policy,
            "policy-domain": attempt.domain,
            "receiving-mx-hostname": attempt.mx_host,
            "receiving-ip": attempt.receiving_ip,
            "result-type": result,
            "failure-reason-code": attempt.detail,
        });
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = writeln!(file, "{line}") {
            tracing::warn!(error = %error, "tls report file not written");
        }
    }
}

/// The result type of a certificate that failed WebPKI verification (RFC
/// 8460 §4.3.1).
pub fn certificate_failure(error: &rustls::Error) -> ResultType {
    match error {
        rustls::Error::InvalidCertificate(reason) => match reason {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                ResultType::CertificateHostMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                ResultType::CertificateExpired
            }
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                ResultType::CertificateNotTrusted
            }
            _ => ResultType::ValidationFailure,
        },
        _ => ResultType::ValidationFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_map_to_result_types() {
        let invalid = rustls::Error::InvalidCertificate;
        assert_eq!(
            certificate_failure(&invalid(CertificateError::NotValidForName)),
            ResultType::CertificateHostMismatch
        );
        assert_eq!(
            certificate_failure(&invalid(CertificateError::Expired)),
            ResultType::CertificateExpired
        );
        assert_eq!(
            certificate_failure(&invalid(CertificateError::UnknownIssuer)),
            ResultType::CertificateNotTrusted
        );
        assert_eq!(
            certificate_failure(&invalid(CertificateError::Revoked)),
            ResultType::ValidationFailure
        );
    }
}
