//! TLS for the HTTPS listener: a generated self-signed server certificate, a rustls server
//! that asks for (but does not require) a client certificate, and certificate helpers.
//!
//! Like LXD, the TLS layer accepts any client certificate; trust is decided per request by
//! looking the certificate's fingerprint up in the trust store, so a client that adds itself
//! with a token becomes trusted on its next request, on the same connection.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::DistinguishedName;
use rustls::SignatureScheme;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};

use crate::util::sha256_hex;

/// The server's certificate and key.
#[derive(Clone)]
pub(crate) struct ServerIdentity {
    /// PEM of the certificate.
    pub(crate) cert_pem: String,
    /// DER of the certificate.
    pub(crate) cert_der: CertificateDer<'static>,
    /// PKCS#8 DER of the key.
    key_der: Vec<u8>,
    /// PEM of the key (written next to the certificate by the binary).
    pub(crate) key_pem: String,
    /// SHA-256 fingerprint of the certificate (hex).
    pub(crate) fingerprint: String,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl ServerIdentity {
    /// A fresh self-signed ECDSA P-384 certificate like the one LXD generates
    /// (`O=linuxcontainers.org`, `CN=root@<host>`), valid for `127.0.0.1`, `::1` and `localhost`.
    pub(crate) fn generate(server_name: &str) -> Result<ServerIdentity, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .map_err(|e| format!("generating the server key: {e}"))?;
        let mut params = rcgen::CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".to_string(),
            server_name.to_string(),
        ])
        .map_err(|e| format!("server certificate parameters: {e}"))?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "linuxcontainers.org");
        dn.push(rcgen::DnType::CommonName, format!("root@{server_name}"));
        params.distinguished_name = dn;
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("signing the server certificate: {e}"))?;
        let cert_der = cert.der().clone();
        Ok(ServerIdentity {
            cert_pem: cert.pem(),
            fingerprint: sha256_hex(&cert_der),
            cert_der,
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A rustls server configuration presenting this identity, HTTP/1.1 only, asking for a
    /// client certificate without requiring one.
    pub(crate) fn server_config(&self) -> Result<rustls::ServerConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(Arc::new(AnyClientCertificate { provider }))
            .with_single_cert(
                vec![self.cert_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .map_err(|e| format!("server TLS configuration: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Accepts every client certificate whose handshake signature checks out; whether it is
/// trusted is the trust store's business.
#[derive(Debug)]
struct AnyClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Empty: clients then send whatever certificate they have.
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A throwaway client certificate and key, for tests that talk HTTPS to a [`crate::TestServer`]
/// (trust it with [`crate::TestServer::trust_certificate`], a trust password or a token).
///
/// ```
/// let cert = lxd_testkit::ClientCertificate::generate("ci-runner").unwrap();
/// assert!(cert.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
/// assert_eq!(cert.fingerprint.len(), 64);
/// ```
#[derive(Clone)]
pub struct ClientCertificate {
    /// The certificate (PEM), subject CN = the name given.
    pub certificate_pem: String,
    /// The private key (PEM, PKCS#8 ECDSA P-384).
    pub key_pem: String,
    /// SHA-256 fingerprint of the certificate (hex), as LXD lists it.
    pub fingerprint: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Generates a self-signed ECDSA P-384 client certificate named `name`.
    ///
    /// ```
    /// let cert = lxd_testkit::ClientCertificate::generate("ci-runner")?;
    /// // Usable as an LXD client identity as it is:
    /// let id = lxd_transport::ClientIdentity::from_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())?;
    /// assert_eq!(id.fingerprint().to_string(), cert.fingerprint);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generate(name: &str) -> Result<ClientCertificate, crate::Error> {
        let fail =
            |e: rcgen::Error| crate::Error::new(format!("generating a client certificate: {e}"));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).map_err(fail)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, name);
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).map_err(fail)?;
        Ok(ClientCertificate {
            certificate_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            fingerprint: sha256_hex(cert.der()),
        })
    }
}

/// PEM of a DER certificate.
pub(crate) fn pem_of(der: &[u8]) -> String {
    let encoded = crate::util::base64_encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The DER of the first certificate in a PEM text.
pub(crate) fn der_from_pem(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    let body: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    crate::util::base64_decode(&body)
}

/// A DER element: tag, contents, and the rest of the input after it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// What LXD needs from a client certificate handed to `POST /1.0/certificates`: that it is
/// a well-formed X.509 structure, and its subject common name (the default name).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedCertificate {
    pub(crate) fingerprint: String,
    pub(crate) common_name: String,
    pub(crate) pem: String,
}

/// Parses a DER certificate far enough to find the subject CN. `Err` with a reason for
/// anything that is not a certificate.
pub(crate) fn parse_certificate(der: &[u8]) -> Result<ParsedCertificate, String> {
    let bad = |what: &str| format!("x509: malformed certificate ({what})");
    let (tag, cert, rest) = der_element(der).ok_or_else(|| bad("outer sequence"))?;
    if tag != 0x30 || !rest.is_empty() {
        return Err(bad("outer sequence"));
    }
    let (tag, tbs, _) = der_element(cert).ok_or_else(|| bad("tbsCertificate"))?;
    if tag != 0x30 {
        return Err(bad("tbsCertificate"));
    }
    let mut fields = tbs;
    // Optional explicit [0] version.
    let (tag, _, rest) = der_element(fields).ok_or_else(|| bad("version"))?;
    if tag == 0xa0 {
        fields = rest;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for what in ["serial number", "signature", "issuer", "validity"] {
        let (_, _, rest) = der_element(fields).ok_or_else(|| bad(what))?;
        fields = rest;
    }
    let (tag, subject, _) = der_element(fields).ok_or_else(|| bad("subject"))?;
    if tag != 0x30 {
        return Err(bad("subject"));
    }
    let mut common_name = String::new();
    let mut sets = subject;
    while !sets.is_empty() {
        let (_, set, rest) = der_element(sets).ok_or_else(|| bad("subject"))?;
        sets = rest;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (_, attribute, rest) = der_element(attributes).ok_or_else(|| bad("subject"))?;
            attributes = rest;
            let (tag, oid, value) = der_element(attribute).ok_or_else(|| bad("subject"))?;
            if tag == 0x06 && oid == [0x55, 0x04, 0x03] {
                let (_, text, _) = der_element(value).ok_or_else(|| bad("subject"))?;
                common_name = String::from_utf8_lossy(text).into_owned();
            }
        }
    }
    Ok(ParsedCertificate {
        fingerprint: sha256_hex(der),
        common_name,
        pem: pem_of(der),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_round_trips() {
        let id = ServerIdentity::generate("testkit").unwrap();
        assert_eq!(id.fingerprint.len(), 64);
        let der = der_from_pem(&id.cert_pem).unwrap();
        assert_eq!(der, id.cert_der.as_ref());
        let parsed = parse_certificate(&der).unwrap();
        assert_eq!(parsed.common_name, "root@testkit");
        assert_eq!(parsed.fingerprint, id.fingerprint);
        assert_eq!(parsed.pem, id.cert_pem.replace("\r\n", "\n"));
        id.server_config().unwrap();
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(parse_certificate(b"hello").is_err());
        assert!(parse_certificate(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(der_from_pem("no pem here").is_none());
    }
}
