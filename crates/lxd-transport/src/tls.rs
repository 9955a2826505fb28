//! TLS for the HTTPS transport: client identities, how the server is trusted, and a verifier
//! that pins a certificate by its SHA-256 fingerprint.
//!
//! LXD servers present self-signed certificates whose names rarely match the address dialled,
//! so pinning ignores names and dates: the certificate either is the pinned one or it is not.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::{Error, Result};

/// A SHA-256 certificate fingerprint, as LXD shows it (64 lowercase hex digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    ///
    /// ```
    /// use lxd_transport::Fingerprint;
    /// # let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    /// # let cert = rcgen::CertificateParams::new(vec!["lxd".into()]).unwrap().self_signed(&key).unwrap();
    /// // `der` as `openssl x509 -outform der` writes it.
    /// let der: &[u8] = cert.der();
    /// let fp = Fingerprint::of_der(der);
    /// assert_eq!(fp, Fingerprint::of_pem(cert.pem().as_bytes())?);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn of_der(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Fingerprint(out)
    }

    /// The fingerprint of the first certificate in a PEM text.
    ///
    /// ```
    /// # use lxd_transport::Fingerprint;
    /// let err = Fingerprint::of_pem(b"not a certificate").unwrap_err();
    /// assert!(err.to_string().contains("certificate"));
    /// ```
    pub fn of_pem(pem: &[u8]) -> Result<Fingerprint> {
        let der = parse_certificates(pem, "certificate")?;
        Ok(Fingerprint::of_der(&der[0]))
    }

    /// Parses 64 hex digits; colons and spaces between them (as some tools print them) are
    /// ignored, case too.
    ///
    /// ```
    /// # use lxd_transport::Fingerprint;
    /// let hex = "AB".repeat(32);
    /// let fp: Fingerprint = hex.parse()?;
    /// assert_eq!(fp.to_string(), "ab".repeat(32));
    /// assert!("abc".parse::<Fingerprint>().is_err());
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Fingerprint> {
        let digits: Vec<u8> = text
            .bytes()
            .filter(|b| *b != b':' && !b.is_ascii_whitespace())
            .collect();
        let bad = |reason: String| Error::InvalidCertificate {
            what: "server fingerprint",
            reason,
        };
        if digits.len() != 64 {
            return Err(bad(format!(
                "expected 64 hex digits (SHA-256), got {}",
                digits.len()
            )));
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| bad("not hex".into()))?;
            out[i] = u8::from_str_radix(hex, 16).map_err(|_| bad(format!("{hex:?} is not hex")))?;
        }
        Ok(Fingerprint(out))
    }

    /// The raw 32 bytes.
    ///
    /// ```
    /// use lxd_transport::Fingerprint;
    /// let fp: Fingerprint = "4f:1c".repeat(16).parse()?;
    /// assert_eq!(fp.as_bytes().len(), 32);
    /// assert_eq!(fp.as_bytes()[..2], [0x4f, 0x1c]);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Fingerprint::parse(s)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A client certificate and its private key, presented to the server.
///
/// LXD's own client keys (ECDSA P-384 in SEC1 "EC PRIVATE KEY" form), PKCS#8 and RSA keys are
/// accepted. `Debug` never shows the key.
#[derive(Clone)]
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl ClientIdentity {
    /// Parses a PEM certificate (chain) and a PEM private key. Errors say which part is wrong,
    /// before any connection is made.
    ///
    /// ```no_run
    /// let cert = std::fs::read("client.crt")?;
    /// let key = std::fs::read("client.key")?;
    /// let id = lxd_transport::ClientIdentity::from_pem(&cert, &key)?;
    /// println!("{}", id.fingerprint());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<ClientIdentity> {
        let chain = parse_certificates(cert_pem, "client certificate")?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| Error::InvalidCertificate {
                what: "client key",
                reason: format!("no usable PEM private key: {e}"),
            })?;
        // Catch a key that does not belong to the certificate now, not at the handshake.
        let provider = provider();
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| Error::InvalidCertificate {
                what: "client key",
                reason: e.to_string(),
            })?;
        let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
        if let Err(e) = certified.keys_match() {
            // `Unknown` means the key type cannot say; only a definite mismatch is refused.
            if !matches!(
                e,
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)
            ) {
                return Err(Error::InvalidCertificate {
                    what: "client certificate",
                    reason: format!("the key does not belong to the certificate: {e}"),
                });
            }
        }
        Ok(ClientIdentity {
            chain,
            key: Arc::new(key),
        })
    }

    /// The SHA-256 fingerprint of the client certificate (what LXD lists in its trust store).
    ///
    /// ```
    /// use lxd_transport::{ClientIdentity, Fingerprint};
    /// # let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    /// # let cert = rcgen::CertificateParams::new(vec!["ci".into()]).unwrap().self_signed(&key).unwrap();
    /// # let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    /// let id = ClientIdentity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    /// // What `lxc config trust list` shows for this client once it is trusted.
    /// assert_eq!(id.fingerprint(), Fingerprint::of_pem(cert_pem.as_bytes())?);
    /// assert_eq!(id.fingerprint().to_string().len(), 64);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.chain[0])
    }

    /// The client certificate in DER form (what `POST /1.0/certificates` takes, base64'd).
    ///
    /// ```
    /// use lxd_transport::{ClientIdentity, Fingerprint};
    /// # let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    /// # let cert = rcgen::CertificateParams::new(vec!["ci".into()]).unwrap().self_signed(&key).unwrap();
    /// # let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    /// let id = ClientIdentity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    /// let der = id.certificate_der(); // base64 it into `certificate` of POST /1.0/certificates
    /// assert_eq!(Fingerprint::of_der(der), id.fingerprint());
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn certificate_der(&self) -> &[u8] {
        &self.chain[0]
    }

    /// The certificate chain, for another TLS backend.
    #[cfg(feature = "native-tls")]
    pub(crate) fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The private key, for another TLS backend.
    #[cfg(feature = "native-tls")]
    pub(crate) fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("fingerprint", &self.fingerprint())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// How the HTTPS transport decides to trust the server. Verification is always on unless
/// [`ServerTrust::DangerAcceptAnyCertificate`] is chosen by name.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ServerTrust {
    /// Trust exactly the certificate with this SHA-256 fingerprint, whatever its names and
    /// dates (LXD's self-signed certificates).
    Pinned(Fingerprint),
    /// Trust exactly this certificate (DER), whatever its names and dates: what
    /// [`ServerTrust::pinned_pem`] gives. With rustls the same as `Pinned` with its
    /// fingerprint; the native-tls backend needs the certificate itself.
    PinnedCertificate(Vec<u8>),
    /// Trust servers whose chain leads to one of these CA certificates (PEM); names must
    /// match the address dialled.
    CaCertificates(Vec<Vec<u8>>),
    /// Trust the operating system's roots; names must match.
    SystemRoots,
    /// Trust no server at all (for transports that never speak TLS).
    #[doc(hidden)]
    Nothing,
    /// Accept ANY server certificate. Anyone on the path can read and change the traffic,
    /// including the client key's authentication. Only for throwaway tests.
    DangerAcceptAnyCertificate,
}

impl ServerTrust {
    /// Pins the certificate given in PEM form (for example LXD's `server.crt`).
    ///
    /// ```
    /// use lxd_transport::ServerTrust;
    /// # let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    /// # let cert = rcgen::CertificateParams::new(vec!["lxd".into()]).unwrap().self_signed(&key).unwrap();
    /// # let server_crt = cert.pem();
    /// // `server_crt`: the contents of /var/snap/lxd/common/lxd/server.crt on the host.
    /// let trust = ServerTrust::pinned_pem(server_crt.as_bytes())?;
    /// assert!(matches!(trust, ServerTrust::PinnedCertificate(ref der) if der == cert.der().as_ref()));
    /// assert!(ServerTrust::pinned_pem(b"not PEM").is_err());
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn pinned_pem(pem: &[u8]) -> Result<ServerTrust> {
        let der = parse_certificates(pem, "certificate")?.swap_remove(0);
        Ok(ServerTrust::PinnedCertificate(der.as_ref().to_vec()))
    }

    /// Pins a fingerprint given as hex text.
    ///
    /// ```
    /// use lxd_transport::ServerTrust;
    /// // As `lxc info | grep fingerprint` prints it on the server.
    /// let trust = ServerTrust::pinned_fingerprint(&"4F:1C".repeat(16))?;
    /// assert!(matches!(trust, ServerTrust::Pinned(fp) if fp.to_string() == "4f1c".repeat(16)));
    /// assert!(ServerTrust::pinned_fingerprint("4f1c").is_err());
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn pinned_fingerprint(hex: &str) -> Result<ServerTrust> {
        Ok(ServerTrust::Pinned(Fingerprint::parse(hex)?))
    }
}

/// The server presented a certificate other than the pinned one.
#[derive(Debug)]
pub struct PinMismatch {
    expected: Fingerprint,
    presented: Fingerprint,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server certificate fingerprint {} does not match the pinned {}",
            self.presented, self.expected
        )
    }
}

impl std::error::Error for PinMismatch {}

/// The crypto provider used everywhere: ring, chosen explicitly so no process-wide default is
/// needed.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls configuration for one HTTPS transport.
pub(crate) fn client_config(
    trust: &ServerTrust,
    identity: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match trust {
        ServerTrust::Pinned(fp) => Arc::new(FixedVerifier {
            expected: Some(*fp),
            algorithms: provider.signature_verification_algorithms,
        }),
        ServerTrust::PinnedCertificate(der) => Arc::new(FixedVerifier {
            expected: Some(Fingerprint::of_der(der)),
            algorithms: provider.signature_verification_algorithms,
        }),
        // An all-zero fingerprint is no certificate's: every handshake is refused.
        ServerTrust::Nothing => Arc::new(FixedVerifier {
            expected: Some(Fingerprint([0; 32])),
            algorithms: provider.signature_verification_algorithms,
        }),
        ServerTrust::DangerAcceptAnyCertificate => Arc::new(FixedVerifier {
            expected: None,
            algorithms: provider.signature_verification_algorithms,
        }),
        ServerTrust::CaCertificates(pems) => {
            let mut roots = rustls::RootCertStore::empty();
            for pem in pems {
                for der in parse_certificates(pem, "CA certificate")? {
                    roots.add(der).map_err(|e| Error::InvalidCertificate {
                        what: "CA certificate",
                        reason: e.to_string(),
                    })?;
                }
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| Error::InvalidCertificate {
                what: "CA certificate",
                reason: e.to_string(),
            })?
        }
        ServerTrust::SystemRoots => Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                Error::InvalidCertificate {
                    what: "system roots",
                    reason: e.to_string(),
                }
            })?,
        ),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidCertificate {
            what: "TLS configuration",
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| Error::InvalidCertificate {
                what: "client certificate",
                reason: e.to_string(),
            })?,
        None => builder.with_no_client_auth(),
    };
    // HTTP/1.1 only: websocket upgrades need it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn parse_certificates(pem: &[u8], what: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::InvalidCertificate {
            what,
            reason: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(Error::InvalidCertificate {
            what,
            reason: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

/// Accepts exactly one certificate, by fingerprint (`expected: Some`), or any certificate
/// (`None`, the named opt-out). Handshake signatures are still checked against the presented
/// certificate's key, so a server must hold that certificate's private key.
#[derive(Debug)]
struct FixedVerifier {
    expected: Option<Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for FixedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(expected) = self.expected else {
            return Ok(ServerCertVerified::assertion());
        };
        let presented = Fingerprint::of_der(end_entity);
        if presented == expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch {
                    expected,
                    presented,
                }))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["lxd-test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn fingerprint_parse_accepts_colons_and_case() {
        let hex = "0123456789abcdef".repeat(4);
        let with_colons: String = hex
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(Fingerprint::parse(&with_colons).unwrap().to_string(), hex);
        assert!(Fingerprint::parse(&"zz".repeat(32)).is_err());
        assert!(Fingerprint::parse("").is_err());
    }

    #[test]
    fn identity_from_pem_ecdsa_p384_like_lxd() {
        let (cert, key) = self_signed();
        let id = ClientIdentity::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        assert_eq!(
            id.fingerprint(),
            Fingerprint::of_pem(cert.as_bytes()).unwrap()
        );
        let debug = format!("{id:?}");
        assert!(
            debug.contains("<redacted>") && !debug.contains("PRIVATE"),
            "{debug}"
        );
    }

    #[test]
    fn identity_errors_name_the_bad_part() {
        let (cert, key) = self_signed();
        let err = ClientIdentity::from_pem(b"junk", key.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("client certificate"), "{err}");
        let err = ClientIdentity::from_pem(cert.as_bytes(), b"junk").unwrap_err();
        assert!(err.to_string().contains("client key"), "{err}");
        let (_, other_key) = self_signed();
        let err = ClientIdentity::from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    #[test]
    fn pinned_verifier_accepts_only_the_pin() {
        let (cert, _) = self_signed();
        let der = CertificateDer::pem_slice_iter(cert.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let (other, _) = self_signed();
        let v = FixedVerifier {
            expected: Some(Fingerprint::of_pem(cert.as_bytes()).unwrap()),
            algorithms: provider().signature_verification_algorithms,
        };
        let name = ServerName::try_from("127.0.0.1").unwrap();
        assert!(
            v.verify_server_cert(&der, &[], &name, &[], UnixTime::now())
                .is_ok()
        );
        let other_der = CertificateDer::pem_slice_iter(other.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let err = v
            .verify_server_cert(&other_der, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        // The mismatch is worded for the caller through the error chain.
        let message = crate::error::tls_message(&err).unwrap();
        assert!(message.contains("does not match the pinned"), "{message}");
    }
}
