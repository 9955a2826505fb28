//! Trusted client certificates (`/1.0/certificates`) and certificate add tokens.

use crate::Operation;
use crate::string_enum::string_enum;
use crate::util::{is_false, nullable, redact_opt, redact_str};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

string_enum! {
    /// Type of a trusted certificate.
    pub enum CertificateType {
        /// A client (full API access unless restricted).
        Client = "client",
        /// A server (cluster member).
        Server = "server",
        /// Access to `/1.0/metrics` only.
        Metrics = "metrics",
        /// Unknown to LXD itself.
        Unknown = "unknown",
    }
    default = Client;
}

/// A trusted certificate (`GET /1.0/certificates/<fingerprint>`).
///
/// ```
/// use lxd_proto::{Certificate, CertificateType};
///
/// let cert: Certificate = serde_json::from_str(r#"{"name": "ci", "type": "client",
///     "restricted": true, "projects": ["ci"], "certificate": "-----BEGIN...",
///     "fingerprint": "b04e2d36"}"#).unwrap();
/// assert_eq!(cert.certificate_type, CertificateType::Client);
/// assert_eq!(cert.writable().projects, ["ci"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Certificate {
    /// Name.
    pub name: String,
    /// Client, server or metrics.
    #[serde(rename = "type")]
    pub certificate_type: CertificateType,
    /// Whether access is limited to `projects`.
    pub restricted: bool,
    /// Projects a restricted certificate can access.
    #[serde(deserialize_with = "nullable")]
    pub projects: Vec<String>,
    /// The certificate (PEM).
    pub certificate: String,
    /// SHA-256 fingerprint (hex).
    pub fingerprint: String,
    /// Description (Incus; LXD does not send it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Certificate {
    /// The writable part, for `PUT /1.0/certificates/<fingerprint>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::Certificate;
    ///
    /// let cert: Certificate = serde_json::from_str(r#"{"name": "ci", "type": "client",
    ///     "restricted": false, "projects": [], "certificate": "-----BEGIN...",
    ///     "fingerprint": "b04e2d36"}"#).unwrap();
    /// // Restrict the certificate to the `ci` project.
    /// let mut put = cert.writable();
    /// put.restricted = true;
    /// put.projects = vec!["ci".into()];
    /// assert_eq!(put.certificate, cert.certificate);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificate_put)
    pub fn writable(&self) -> CertificatePut {
        CertificatePut {
            name: self.name.clone(),
            certificate_type: self.certificate_type.clone(),
            restricted: self.restricted,
            projects: self.projects.clone(),
            certificate: self.certificate.clone(),
            description: self.description.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH /1.0/certificates/<fingerprint>`: the writable part of [`Certificate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificatePut {
    /// Name.
    pub name: String,
    /// Client, server or metrics.
    #[serde(rename = "type")]
    pub certificate_type: CertificateType,
    /// Whether access is limited to `projects`.
    pub restricted: bool,
    /// Projects a restricted certificate can access.
    #[serde(deserialize_with = "nullable")]
    pub projects: Vec<String>,
    /// The certificate (PEM).
    pub certificate: String,
    /// Description (Incus; LXD ignores it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/certificates`: trust a certificate, or ask for a certificate add token.
///
/// Unset fields are not sent. Three ways to use it:
/// - trusted client adding a certificate: `certificate` (PEM or base64 DER) and `name`;
/// - untrusted client adding itself over HTTPS (its TLS client certificate is used):
///   `password` = the trust password, or on LXD 5.0 the `secret` of a token;
///   newer servers take the whole token in `trust_token` (API extension
///   `explicit_trust_token`);
/// - trusted client asking for a token: `token: true` and `name`; the reply is a `token`
///   class operation, see [`CertificateAddToken::from_operation`].
///
/// `Debug` redacts `password` and `trust_token`.
///
/// ```
/// use lxd_proto::CertificatesPost;
///
/// let request = CertificatesPost { name: "ci".into(), token: true, ..Default::default() };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"name":"ci","type":"client","token":true}"#,
/// );
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificatesPost {
    /// Name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Client (default), server or metrics.
    #[serde(rename = "type")]
    pub certificate_type: CertificateType,
    /// Whether access is limited to `projects`.
    #[serde(skip_serializing_if = "is_false")]
    pub restricted: bool,
    /// Projects a restricted certificate can access.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// The certificate (PEM or base64 DER); empty to use the TLS client certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub certificate: String,
    /// Description (Incus; LXD ignores it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Trust password (or, on LXD 5.0, a token's secret). Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Ask for a certificate add token instead of adding a certificate.
    #[serde(skip_serializing_if = "is_false")]
    pub token: bool,
    /// A whole certificate add token (newer LXD, `explicit_trust_token`). Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_token: Option<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for CertificatesPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificatesPost")
            .field("name", &self.name)
            .field("certificate_type", &self.certificate_type)
            .field("restricted", &self.restricted)
            .field("projects", &self.projects)
            .field("certificate", &self.certificate)
            .field("description", &self.description)
            .field("password", &redact_opt(&self.password))
            .field("token", &self.token)
            .field("trust_token", &redact_opt(&self.trust_token))
            .field(
                "extra",
                &crate::util::redact(&Value::Object(self.extra.clone())),
            )
            .finish()
    }
}

/// A certificate add token: what `lxc config trust add` prints (base64 of this JSON).
///
/// The server hands its parts out as the metadata of a `token` class operation (keys
/// `request.name`, `fingerprint`, `addresses`, `secret`, `expiresAt`), see
/// [`CertificateAddToken::from_operation`]; the client side pastes the encoded string, see
/// [`CertificateAddToken::decode`].
///
/// `Debug` redacts `secret`.
///
/// ```
/// use lxd_proto::CertificateAddToken;
///
/// let token = CertificateAddToken {
///     client_name: "ci".into(),
///     fingerprint: "5e0184f5".into(),
///     addresses: vec!["10.0.0.1:8443".into()],
///     secret: "s3cr3t".into(),
///     ..Default::default()
/// };
/// let encoded = token.encode();
/// assert_eq!(CertificateAddToken::decode(&encoded).unwrap(), token);
/// assert!(!format!("{token:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificateAddToken {
    /// Name the certificate will be trusted under.
    pub client_name: String,
    /// Fingerprint of the server certificate (pin it when connecting).
    pub fingerprint: String,
    /// Addresses of the server.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    /// The secret to present. Secret.
    pub secret: String,
    /// Expiry (RFC 3339); empty when the token does not expire. Not written when empty
    /// (LXD's Go decoder rejects an empty time string).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expires_at: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CertificateAddToken {
    /// Reads the token from the metadata of a `token` class operation (the reply to
    /// `POST /1.0/certificates` with `token: true`). `None` if the metadata lacks the name,
    /// fingerprint, addresses or secret.
    ///
    /// ```
    /// use lxd_proto::{CertificateAddToken, Operation};
    ///
    /// let op: Operation = serde_json::from_str(r#"{"class": "token", "status_code": 103,
    ///     "metadata": {"request": {"name": "ci", "type": "client", "token": true},
    ///         "fingerprint": "5e0184f5", "addresses": ["10.0.0.1:8443"],
    ///         "secret": "s3cr3t", "expiresAt": "0001-01-01T00:00:00Z"}}"#).unwrap();
    /// let token = CertificateAddToken::from_operation(&op).unwrap();
    /// assert_eq!(token.client_name, "ci");
    /// assert_eq!(token.addresses, ["10.0.0.1:8443"]);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_post)
    pub fn from_operation(operation: &Operation) -> Option<Self> {
        let metadata = operation.metadata_object()?;
        let client_name = metadata.get("request")?.get("name")?.as_str()?.to_owned();
        let (fingerprint, addresses, secret, expires_at) = token_parts(metadata)?;
        Some(Self {
            client_name,
            fingerprint,
            addresses,
            secret,
            expires_at,
            extra: Map::new(),
        })
    }

    /// The token string users copy around: standard base64 of the JSON form.
    ///
    /// ```
    /// use lxd_proto::CertificateAddToken;
    ///
    /// let token = CertificateAddToken {
    ///     client_name: "ci".into(),
    ///     fingerprint: "5e0184f5".into(),
    ///     addresses: vec!["10.0.0.1:8443".into()],
    ///     secret: "s3cr3t".into(),
    ///     ..Default::default()
    /// };
    /// // What `lxc config trust add --name ci` would print for it.
    /// assert!(token.encode().starts_with("eyJjbGllbnRfbmFtZSI6ImNpIi"));
    /// ```
    pub fn encode(&self) -> String {
        encode_token(self)
    }

    /// Parses a token string (surrounding whitespace is ignored).
    ///
    /// ```
    /// use lxd_proto::CertificateAddToken;
    ///
    /// // A token as pasted by a user, trailing newline included.
    /// let pasted = concat!(
    ///     "eyJjbGllbnRfbmFtZSI6ImNpIiwiZmluZ2VycHJpbnQiOiI1ZTAxODRmNSIsImFkZHJlc3NlcyI6",
    ///     "WyIxMC4wLjAuMTo4NDQzIl0sInNlY3JldCI6InMzY3IzdCJ9\n",
    /// );
    /// let token = CertificateAddToken::decode(pasted).unwrap();
    /// assert_eq!((token.client_name.as_str(), token.fingerprint.as_str()), ("ci", "5e0184f5"));
    /// assert!(CertificateAddToken::decode("not a token").is_err());
    /// ```
    pub fn decode(token: &str) -> Result<Self, serde_json::Error> {
        decode_token(token, "certificate add token")
    }
}

impl fmt::Debug for CertificateAddToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAddToken")
            .field("client_name", &self.client_name)
            .field("fingerprint", &self.fingerprint)
            .field("addresses", &self.addresses)
            .field("secret", &redact_str(&self.secret))
            .field("expires_at", &self.expires_at)
            .field(
                "extra",
                &crate::util::redact(&Value::Object(self.extra.clone())),
            )
            .finish()
    }
}

/// What every token operation's metadata holds besides its own name field (certificate
/// add tokens and cluster join tokens alike): `(fingerprint, addresses, secret,
/// expires_at)`, or `None` if one of the first three is missing.
pub(crate) fn token_parts(
    metadata: &Map<String, Value>,
) -> Option<(String, Vec<String>, String, String)> {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let addresses = metadata
        .get("addresses")?
        .as_array()?
        .iter()
        .map(text)
        .collect::<Option<Vec<_>>>()?;
    Some((
        text(metadata.get("fingerprint")?)?,
        addresses,
        text(metadata.get("secret")?)?,
        metadata.get("expiresAt").and_then(text).unwrap_or_default(),
    ))
}

/// A token as users copy it around: standard base64 of its JSON form.
pub(crate) fn encode_token<T: Serialize>(token: &T) -> String {
    let json = serde_json::to_vec(token).expect("a token always serializes");
    base64::encode(&json)
}

/// Parses a token string (surrounding whitespace is ignored); `what` names it in the error.
pub(crate) fn decode_token<T: serde::de::DeserializeOwned>(
    token: &str,
    what: &str,
) -> Result<T, serde_json::Error> {
    let json = base64::decode(token.trim()).ok_or_else(|| {
        <serde_json::Error as serde::de::Error>::custom(format!("{what} is not valid base64"))
    })?;
    serde_json::from_slice(&json)
}

/// Standard base64 (RFC 4648, with padding), just enough for tokens; keeps the crate at
/// serde + serde_json. Shared with the cluster join token.
pub(crate) mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(crate) fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let bytes = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let group = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
            for i in 0..4 {
                if i <= chunk.len() {
                    let index = (group >> (18 - 6 * i)) & 0x3f;
                    out.push(ALPHABET[index as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// `None` on any invalid character or length. Padding is optional.
    pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
        let input = input.trim_end_matches('=').as_bytes();
        if input.len() % 4 == 1 {
            return None;
        }
        let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
        let mut out = Vec::with_capacity(input.len() * 3 / 4);
        for chunk in input.chunks(4) {
            let mut group = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                group |= value(c)? << (18 - 6 * i);
            }
            let bytes = group.to_be_bytes();
            out.extend_from_slice(&bytes[1..chunk.len()]);
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn rfc4648_vectors() {
            let vectors = [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foob", "Zm9vYg=="),
                ("fooba", "Zm9vYmE="),
                ("foobar", "Zm9vYmFy"),
            ];
            for (plain, encoded) in vectors {
                assert_eq!(super::encode(plain.as_bytes()), encoded);
                assert_eq!(super::decode(encoded).unwrap(), plain.as_bytes());
            }
            assert_eq!(super::decode("Zm9vYg").unwrap(), b"foob");
            assert_eq!(super::decode("Zm9v!"), None);
            assert_eq!(super::decode("Z"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn certificates_post_debug_hides_secrets() {
        let request = CertificatesPost {
            password: Some("hunter2".into()),
            trust_token: Some("eyJjbGllbnRfbmFtZSI6".into()),
            ..Default::default()
        };
        let debug = format!("{request:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("eyJjbGllbnRfbmFtZSI6"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"type": "client", "password": "hunter2", "trust_token": "eyJjbGllbnRfbmFtZSI6"})
        );
    }

    #[test]
    fn decodes_a_go_encoded_token() {
        // Shape produced by LXD's `CertificateAddToken.String()` (base64 of the Go JSON,
        // including the zero time when there is no expiry).
        let json = r#"{"client_name":"fx","fingerprint":"ab","addresses":["127.0.0.1:8443"],"secret":"s","expires_at":"0001-01-01T00:00:00Z"}"#;
        let token = CertificateAddToken::decode(&base64::encode(json.as_bytes())).unwrap();
        assert_eq!(token.client_name, "fx");
        assert_eq!(token.addresses, ["127.0.0.1:8443"]);
        assert_eq!(token.expires_at, "0001-01-01T00:00:00Z");
        assert!(CertificateAddToken::decode("not base64!").is_err());
    }

    #[test]
    fn from_operation_needs_the_token_fields() {
        let op = Operation {
            metadata: Some(json!({"fingerprint": "ab", "addresses": [], "secret": "s"})),
            ..Default::default()
        };
        assert_eq!(CertificateAddToken::from_operation(&op), None);
    }
}
