//! DKIM signing (RFC 6376) for the bulk sender and the relay: RSA-SHA256
//! and Ed25519-SHA256 (RFC 8463) keys per domain and selector, read from
//! PEM files, relaxed/relaxed canonicalisation, and both signatures when a
//! domain has a key of each kind. The cryptography and canonicalisation
//! are the `mail-auth` crate's.
//!
//! The signing domain is the domain of the message's `From:` address, so
//! that the signature is aligned with it for DMARC (RFC 7489 §3.1.1); a
//! message whose `From:` domain has no key is left unsigned.

use std::fmt;
use std::path::Path;

use mail_auth::arc::ArcSealer;
use mail_auth::common::crypto::CryptoError;
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderStream, HeaderWriter, Writable, Writer};
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::{Canonicalization, Done, Signature};
use mail_auth::AuthenticatedMessage;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

/// The smallest RSA key accepted: RFC 8301 §3.2 has signers use at least
/// 2048 bits (1024 is the least a verifier must take, and no longer safe).
pub const MIN_RSA_BITS: usize = 2048;

/// The header fields signed, in this order. Every field named here is
/// signed whether the message has it or not: one it lacks is signed as
/// absent (RFC 6376 §5.4), so it cannot be added on the way without
/// breaking the signature. `From` is named twice ("over-signed"): the first
/// covers the message's `From:`, the second its absence above it, so a
/// second `From:` added later, which some readers would show instead,
/// breaks the signature too. `From`, `Subject`, `Date`, `Message-ID`, `To`
/// and the one-click unsubscribe fields are always there, the latter two
/// because RFC 8058 §4 asks for them to be covered by a valid signature.
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// The two kinds of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `rsa-sha256` (RFC 6376 §3.3.1).
    Rsa,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519,
}

impl Algorithm {
    /// The `k=` tag of the key record (RFC 6376 §3.6.1, RFC 8463 §4).
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

/// A signing key for one domain and selector.
pub struct Key {
    /// The signing domain (`d=`), lower case.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The kind of key.
    pub algorithm: Algorithm,
    secret: DkimKey,
    /// What the key record publishes as `p=`: the SubjectPublicKeyInfo for
    /// RSA (RFC 6376 §3.6.1), the bare 32-octet key for Ed25519 (RFC 8463
    /// §4).
    public: Vec<u8>,
    /// The PEM text it was read from, for a second signer with the same
    /// key ([`try_clone`](Self::try_clone)); never printed.
    pem: String,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} key {}._domainkey.{}",
            self.algorithm.key_type(),
            self.selector,
            self.domain
        )
    }
}

impl Key {
    /// Reads `domain:selector:file`, the form of the `--dkim` flag.
    pub fn load(spec: &str) -> Result<Key, String> {
        let mut parts = spec.splitn(3, ':');
        let (Some(domain), Some(selector), Some(file)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("--dkim {spec}: expected domain:selector:keyfile"));
        };
        Key::read(domain, selector, Path::new(file)).map_err(|e| format!("--dkim {e}"))
    }

    /// Reads the key for `domain` and `selector` from the PEM file `file`.
    pub fn read(domain: &str, selector: &str, file: &Path) -> Result<Key, String> {
        let pem = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        Key::from_pem(domain, selector, &pem).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// A key from its PEM text: PKCS#8 (RSA or Ed25519) or PKCS#1 (RSA).
    /// RSA keys under [`MIN_RSA_BITS`] are refused.
    pub fn from_pem(domain: &str, selector: &str, pem: &str) -> Result<Key, String> {
        let valid = |label: &str| {
            !label.is_empty()
                && label.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        if !valid(domain) {
            return Err(format!("{domain:?} is not a domain name"));
        }
        if !valid(selector) {
            return Err(format!("{selector:?} is not a selector (RFC 6376 §3.1)"));
        }
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("no private key in PEM form: {e}"))?;
        // PKCS#8 names its algorithm inside: an RSA key, or else Ed25519.
        let rsa = match &der {
            PrivateKeyDer::Pkcs1(pkcs1) => Some(
                rsa::RsaPrivateKey::from_pkcs1_der(pkcs1.secret_pkcs1_der())
                    .map_err(|e| format!("not an RSA key: {e}"))?,
            ),
            PrivateKeyDer::Pkcs8(pkcs8) => {
                rsa::RsaPrivateKey::from_pkcs8_der(pkcs8.secret_pkcs8_der()).ok()
            }
            _ => return Err("only RSA and Ed25519 keys sign DKIM".into()),
        };
        let (algorithm, secret, public) = match (rsa, &der) {
            (Some(rsa), _) => {
                let bits = rsa.size() * 8;
                if bits < MIN_RSA_BITS {
                    return Err(format!(
                        "an RSA key of {bits} bits: at least {MIN_RSA_BITS} are needed \
                         (RFC 8301 §3.2)"
                    ));
                }
                let public = rsa
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| e.to_string())?
                    .into_vec();
                let key =
                    RsaKey::<Sha256>::from_key_der(der.clone_key()).map_err(|e| e.to_string())?;
                (Algorithm::Rsa, DkimKey::Rsa(key), public)
            }
            (None, PrivateKeyDer::Pkcs8(pkcs8)) => {
                let key = Ed25519Key::from_pkcs8_der(pkcs8.secret_pkcs8_der())
                    .map_err(|_| "neither an RSA nor an Ed25519 key")?;
                let public = key.public_key();
                (Algorithm::Ed25519, DkimKey::Ed25519(key), public)
            }
            (None, _) => return Err("only RSA and Ed25519 keys sign DKIM".into()),
        };
        Ok(Key {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_string(),
            algorithm,
            secret,
            public,
            pem: pem.to_string(),
        })
    }

    /// Another `Key` with the same secret, read again from its PEM text:
    /// the signing key of `mail-auth` cannot be copied.
    pub fn try_clone(&self) -> Result<Key, String> {
        Key::from_pem(&self.domain, &self.selector, &self.pem)
    }

    /// A new key of `algorithm` (RSA of [`MIN_RSA_BITS`]) as PKCS#8 PEM.
    pub fn generate(algorithm: Algorithm) -> Result<String, String> {
        let pem = match algorithm {
            Algorithm::Rsa => rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, MIN_RSA_BITS)
                .and_then(|key| Ok(key.to_pkcs8_pem(LineEnding::LF)?))
                .map_err(|e| e.to_string())?,
            Algorithm::Ed25519 => {
                let der = Ed25519Key::generate_pkcs8().map_err(|e| e.to_string())?;
                // PEM armour from the same pkcs8 crate the RSA key uses.
                rsa::pkcs8::SecretDocument::try_from(der.as_slice())
                    .and_then(|document| document.to_pem("PRIVATE KEY", LineEnding::LF))
                    .map_err(|e| e.to_string())?
            }
        };
        Ok(pem.to_string())
    }

    /// The text of the key record: `v=DKIM1; k=…; p=…` (RFC 6376
    /// §3.6.1), the public key in base64.
    pub fn record_text(&self) -> String {
        use base64::Engine;
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.key_type(),
            base64::engine::general_purpose::STANDARD.encode(&self.public)
        )
    }

    /// The key record to publish, in zone-file form: `selector._domainkey.
    /// domain. IN TXT "v=DKIM1; k=…; p=…"`, the text split into strings of
    /// at most 255 octets, as one TXT string can hold no more (RFC 1035
    /// §3.3.14); verifiers join them (RFC 6376 §3.6.2.2).
    pub fn txt_record(&self) -> String {
        let text = self.record_text();
        let strings: Vec<String> = text
            .as_bytes()
            .chunks(255)
            .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
            .collect();
        format!(
            "{}._domainkey.{}. IN TXT {}",
            self.selector,
            self.domain,
            strings.join(" ")
        )
    }
}

impl Key {
    /// An ARC sealer (RFC 8617) with this key, signing the
    /// [`DEFAULT_HEADERS`] in `ARC-Message-Signature` with relaxed/relaxed
    /// canonicalisation, its signature expiring `expiry` seconds after it
    /// is made (the `x=` tag) when given. RSA keys only: `rsa-sha256` is
    /// the algorithm ARC verifiers take.
    pub fn into_arc_sealer(self, expiry: Option<u64>) -> Result<ArcSealer<DkimKey, Done>, String> {
        if self.algorithm != Algorithm::Rsa {
            return Err(format!("{self:?}: ARC seals with RSA keys only"));
        }
        let sealer = ArcSealer::from_key(self.secret)
            .domain(self.domain)
            .selector(self.selector)
            .headers(DEFAULT_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        Ok(match expiry {
            Some(seconds) => sealer.expiration(seconds),
            None => sealer,
        })
    }
}

/// How the key record published for a [`Key`] compares with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The record publishes this key's public half.
    Matches,
    /// The record's key is of another type (`k=`, RFC 6376 §3.6.1).
    OtherType,
    /// The record publishes another key of the same type.
    OtherKey,
}

impl Key {
    /// The name of the key record: `selector._domainkey.domain` (RFC 6376
    /// §3.6.2.1).
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// Compares the key record `published` (as `mail-auth` parses it)
    /// with this key: a probe signed with the private key is verified with
    /// the published key, which is what a receiver does with a signature,
    /// and so checks the key type and the public key at once.
    pub fn compare(&self, published: &DomainKey) -> Result<Published, String> {
        const PROBE: &[u8] = b"smtpwire: does the published key verify this?";
        let signature = self.secret.sign(PROBE).map_err(|e| e.to_string())?;
        match published
            .p
            .verify_bytes(PROBE, &signature, self.secret.algorithm())
        {
            Ok(()) => Ok(Published::Matches),
            Err(mail_auth::Error::Crypto(CryptoError::IncompatibleAlgorithms)) => {
                Ok(Published::OtherType)
            }
            Err(_) => Ok(Published::OtherKey),
        }
    }
}

/// Signs messages with the keys of their `From:` domain.
#[derive(Debug)]
pub struct Signer {
    keys: Vec<Key>,
    headers: Vec<String>,
}

/// The signed data of one signature: the canonical header fields, then
/// the signature's own field with an empty `b=` (RFC 6376 §3.7).
struct Signed<'a, 'x> {
    headers: mail_auth::dkim::canonicalize::CanonicalHeaders<'x>,
    signature: &'a Signature,
}

impl Writable for Signed<'_, '_> {
    fn write(self, writer: &mut impl Writer) {
        self.headers.write(writer);
        self.signature.write(writer, false);
    }
}

impl Signer {
    /// A signer with `keys` and the [`DEFAULT_HEADERS`]. Two keys for the
    /// same domain and selector are refused: the second record would
    /// replace the first in DNS.
    pub fn new(keys: Vec<Key>) -> Result<Signer, String> {
        for (index, key) in keys.iter().enumerate() {
            if keys[..index]
                .iter()
                .any(|k| k.domain == key.domain && k.selector == key.selector)
            {
                return Err(format!("two keys for {key:?}"));
            }
        }
        Ok(Signer {
            keys,
            headers: DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect(),
        })
    }

    /// Reads the `--dkim domain:selector:keyfile` flags.
    pub fn from_specs(specs: &[String]) -> Result<Signer, String> {
        Signer::new(
            specs
                .iter()
                .map(|spec| Key::load(spec))
                .collect::<Result<_, _>>()?,
        )
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Whether `domain` has a key.
    pub fn signs_for(&self, domain: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.domain.eq_ignore_ascii_case(domain))
    }

    /// The `DKIM-Signature:` fields to put on top of `message` (CRLF line
    /// ends), one per key of its `From:` domain, made at `now` (seconds
    /// since the epoch, the `t=` tag). `None` when the domain has no key,
    /// or when each of its keys has signed the message already (an earlier
    /// hop with the same key, or this program before a restart).
    ///
    /// The body is canonicalised and hashed once, whatever the number of
    /// signatures: both algorithms hash with SHA-256 under the same
    /// canonicalisation, so they share `bh=`.
    pub fn sign(&self, message: &[u8], now: u64) -> Result<Option<Vec<u8>>, String> {
        let parsed = AuthenticatedMessage::parse(message).ok_or("not a message")?;
        // RFC 5322 §3.6.2: From may list several authors; a DMARC verifier
        // takes the domain only when they share one (RFC 7489 §6.6.1).
        let Some(domain) = single_domain(parsed.froms()) else {
            return Ok(None);
        };
        let keys: Vec<&Key> = self
            .keys
            .iter()
            .filter(|key| key.domain == domain)
            .filter(|key| {
                !parsed.dkim_headers.iter().any(|existing| {
                    existing.header.d.eq_ignore_ascii_case(&key.domain)
                        && existing.header.s.eq_ignore_ascii_case(&key.selector)
                })
            })
            .collect();
        let Some(first) = keys.first() else {
            return Ok(None);
        };
        let template = Signature {
            v: 1,
            d: domain,
            h: self.headers.clone(),
            t: now,
            ch: Canonicalization::Relaxed,
            cb: Canonicalization::Relaxed,
            ..Signature::default()
        };
        let stream = || Fields {
            headers: parsed.headers.iter(),
            body: message.get(parsed.body_offset()..).unwrap_or_default(),
        };
        let (_, _, _, body) = template.canonicalize(stream());
        let body_hash = first.secret.hash(body).as_ref().to_vec();
        let mut fields = Vec::new();
        for key in keys {
            let (_, headers, names, _) = template.canonicalize(stream());
            let mut signature = template.clone();
            signature.a = key.secret.algorithm();
            signature.s = key.selector.clone();
            signature.h = names;
            signature.bh = body_hash.clone();
            signature.b = key
                .secret
                .sign(Signed {
                    headers,
                    signature: &signature,
                })
                .map_err(|e| format!("{key:?}: {e}"))?;
            let field = unfold_before_semicolon(&signature.to_header());
            fields.extend_from_slice(field.as_bytes());
        }
        Ok(Some(fields))
    }
}

/// `fields` (signature fields as `mail-auth` writes them) without a fold
/// just before a `;`. They are folded at a fixed width, which can put a
/// fold between the end of `b=` and its `;`. RFC 6376 §3.7 has b='s value
/// deleted "including all surrounding whitespace", yet verifiers differ on
/// whether a fold after it goes too (dkimpy keeps it, and fails the
/// signature), so none is left there. ARC's fields are signed the same way
/// (RFC 8617 §4.1.2).
pub(crate) fn unfold_before_semicolon(fields: &str) -> String {
    fields.replace("\r\n\t;", ";")
}

/// A parsed message's header fields and body, as the canonicalisation
/// takes them.
struct Fields<'a, 'x> {
    headers: std::slice::Iter<'a, (&'x [u8], &'x [u8])>,
    body: &'x [u8],
}

impl<'x> HeaderStream<'x> for Fields<'_, 'x> {
    fn next_header(&mut self) -> Option<(&'x [u8], &'x [u8])> {
        self.headers.next().copied()
    }

    fn body(&mut self) -> &'x [u8] {
        self.body
    }
}

/// The lower-case domain shared by every address in `from`, if there is
/// one.
pub(crate) fn single_domain(from: &[String]) -> Option<String> {
    let mut domains = from.iter().map(|address| {
        address
            .rsplit_once('@')
            .map(|(_, domain)| domain.trim_end_matches('.').to_ascii_lowercase())
    });
    let first = domains.next()??;
    domains
        .all(|domain| domain.as_deref() == Some(first.as_str()))
        .then_some(first)
}
