//! The platform TLS backend (OpenSSL on Linux, through reqwest's `native-tls`), chosen with
//! [`TransportBuilder::native_tls`](crate::TransportBuilder::native_tls) when the crate's
//! `native-tls` feature is on.
//!
//! Server trust stays strict: a pinned certificate becomes the ONLY trust anchor (the
//! platform's roots are switched off) and only host-name checks are skipped, so the server
//! must present that certificate (or one signed with its private key, which only the server
//! holds). A pin given as a bare fingerprint cannot be expressed this way (the platform
//! libraries accept no custom verifier), so that combination is refused when the transport
//! is built, rather than checked after a request has already gone out.

use rustls_pki_types::PrivateKeyDer;

use crate::error::{Error, Result};
use crate::tls::{ClientIdentity, ServerTrust};

fn refuse(reason: impl Into<String>) -> Error {
    Error::InvalidCertificate {
        what: "native TLS configuration",
        reason: reason.into(),
    }
}

/// Configures `http` to speak TLS through the platform library with this trust and identity.
pub(crate) fn configure(
    http: reqwest::ClientBuilder,
    trust: &ServerTrust,
    identity: Option<&ClientIdentity>,
) -> Result<reqwest::ClientBuilder> {
    let mut http = http.tls_backend_native();
    let certificate = |der: &[u8]| {
        reqwest::Certificate::from_der(der).map_err(|e| refuse(format!("certificate: {e}")))
    };
    http = match trust {
        ServerTrust::PinnedCertificate(der) => http
            .tls_certs_only([certificate(der)?])
            .tls_danger_accept_invalid_hostnames(true),
        ServerTrust::Pinned(_) => {
            return Err(refuse(
                "the native-tls backend can pin only a certificate it is given, not a bare \
                 fingerprint: give the server's certificate (ServerTrust::pinned_pem, \
                 server_certificate_pem) or use the default rustls backend",
            ));
        }
        ServerTrust::CaCertificates(pems) => {
            let mut roots = Vec::new();
            for pem in pems {
                let parsed = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| refuse(format!("CA certificate: {e}")))?;
                roots.extend(parsed);
            }
            if roots.is_empty() {
                return Err(refuse("no CA certificate given"));
            }
            http.tls_certs_only(roots)
        }
        ServerTrust::SystemRoots => http,
        ServerTrust::DangerAcceptAnyCertificate => http.tls_danger_accept_invalid_certs(true),
        ServerTrust::Nothing => return Err(refuse("no server is trusted")),
    };
    if let Some(id) = identity {
        let key = pkcs8_pem(id.key())?;
        let mut cert = Vec::new();
        for der in id.chain() {
            cert.extend_from_slice(pem("CERTIFICATE", der).as_bytes());
        }
        let identity = reqwest::Identity::from_pkcs8_pem(&cert, key.as_bytes())
            .map_err(|e| refuse(format!("client identity: {e}")))?;
        http = http.identity(identity);
    }
    Ok(http)
}

/// The private key as a PKCS#8 PEM (what the platform backend takes): LXD's own keys are
/// SEC1 ("EC PRIVATE KEY"), others PKCS#1 RSA; both are wrapped, PKCS#8 kept.
fn pkcs8_pem(key: &PrivateKeyDer<'_>) -> Result<String> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const RSA_ENCRYPTION: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let der = match key {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        PrivateKeyDer::Sec1(k) => {
            let sec1 = k.secret_sec1_der();
            let curve =
                sec1_curve(sec1).ok_or_else(|| refuse("the EC key does not name its curve"))?;
            let algorithm = tlv(0x30, &[EC_PUBLIC_KEY, curve].concat());
            wrap_pkcs8(&algorithm, sec1)
        }
        PrivateKeyDer::Pkcs1(k) => wrap_pkcs8(&tlv(0x30, RSA_ENCRYPTION), k.secret_pkcs1_der()),
        _ => return Err(refuse("unsupported private key format")),
    };
    Ok(pem("PRIVATE KEY", &der))
}

fn wrap_pkcs8(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let version = [0x02, 0x01, 0x00];
    tlv(0x30, &[&version[..], algorithm, &tlv(0x04, key)].concat())
}

/// The named-curve OID (whole TLV) in a SEC1 `ECPrivateKey`'s `[0] parameters`.
fn sec1_curve(der: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = read_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = body;
    while !rest.is_empty() {
        let (tag, inner, next) = read_tlv(rest)?;
        if tag == 0xa0 {
            let (oid_tag, _, _) = read_tlv(inner)?;
            return (oid_tag == 0x06).then_some(inner);
        }
        rest = next;
    }
    None
}

/// One DER tag-length-value: `(tag, value, rest)`.
fn read_tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn pem_round_trips() {
        for len in 1..10u32 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
            let text = pem("CERTIFICATE", &data);
            let back = rustls_pki_types::CertificateDer::from_pem_slice(text.as_bytes());
            assert_eq!(back.unwrap().as_ref(), &data[..], "{text}");
        }
    }

    /// The elements of a DER SEQUENCE body, each re-encoded whole.
    fn elements(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((tag, value, rest)) = read_tlv(body) {
            out.push((tag, tlv(tag, value)));
            body = rest;
        }
        out
    }

    #[test]
    fn sec1_keys_like_lxds_become_pkcs8_the_platform_loads() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["lxd-test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        // rcgen writes PKCS#8: { version, { ecPublicKey, curve }, OCTET STRING { ECPrivateKey } }.
        // LXD's client.key is that ECPrivateKey alone, with the curve in its `[0]`: build it.
        let pkcs8 = key.serialize_der();
        let (_, body, _) = read_tlv(&pkcs8).unwrap();
        let outer = elements(body);
        let (_, algorithm, _) = read_tlv(&outer[1].1).unwrap();
        let curve = elements(algorithm)[1].1.clone();
        let (_, inner, _) = read_tlv(&outer[2].1).unwrap();
        let (_, ec_body, _) = read_tlv(inner).unwrap();
        let mut fields: Vec<Vec<u8>> = elements(ec_body)
            .into_iter()
            .filter(|(tag, _)| *tag != 0xa0)
            .map(|(_, der)| der)
            .collect();
        fields.insert(2, tlv(0xa0, &curve));
        let sec1 = tlv(0x30, &fields.concat());
        assert_eq!(sec1_curve(&sec1), Some(&curve[..]));

        let converted = pkcs8_pem(&PrivateKeyDer::Sec1(sec1.into())).unwrap();
        assert!(converted.starts_with("-----BEGIN PRIVATE KEY-----"));
        let identity =
            reqwest::Identity::from_pkcs8_pem(cert.pem().as_bytes(), converted.as_bytes());
        assert!(identity.is_ok(), "{identity:?}");
        // A key that names no curve is refused with a reason.
        let bare = tlv(0x30, &[fields[0].clone(), fields[1].clone()].concat());
        let err = pkcs8_pem(&PrivateKeyDer::Sec1(bare.into())).unwrap_err();
        assert!(err.to_string().contains("curve"), "{err}");
        assert!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
    }
}
