//! TLS and trust against `lxd-testkit` over HTTPS: verification is on by default, a wrong
//! pinned certificate or fingerprint is refused before any request is sent (the test server
//! counts the requests that reach it), plain HTTP is refused, an untrusted client gets a
//! clear "not authorized" error, and key files are private.

use std::os::unix::fs::PermissionsExt;

use lxd_client::{Client, ClientBuilder};
use lxd_testkit::{ClientCertificate, TestServer};

async fn https_server() -> TestServer {
    TestServer::builder().https().start().await.unwrap()
}

/// Asserts the call failed in the TLS handshake and that no HTTP request got through.
fn refused_before_any_request(server: &TestServer, error: &lxd_client::Error) {
    assert!(error.is_tls(), "a TLS error: {error:?}");
    assert_eq!(
        server.faults().requests_seen(),
        0,
        "no request reached the server"
    );
}

#[tokio::test]
async fn verification_is_on_by_default() {
    let server = https_server().await;
    // No pin, no CA: the system roots, which do not know the server's self-signed
    // certificate.
    let client = Client::https(server.https_url().unwrap()).build().unwrap();
    let error = client.server().await.unwrap_err();
    refused_before_any_request(&server, &error);
}

#[tokio::test]
async fn a_wrong_pinned_fingerprint_is_refused_before_any_request() {
    let server = https_server().await;
    let cert = ClientCertificate::generate("client").unwrap();
    let client = ClientBuilder::https(server.https_url().unwrap())
        .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
        .server_fingerprint(&cert.fingerprint) // a real fingerprint, of another certificate
        .build()
        .unwrap();
    let error = client.server().await.unwrap_err();
    refused_before_any_request(&server, &error);
    // A request that would change something is refused the same way.
    let error = client.authenticate("secret").await.unwrap_err();
    refused_before_any_request(&server, &error);
    // The right pin works (the count then moves).
    let right = ClientBuilder::https(server.https_url().unwrap())
        .server_fingerprint(server.certificate_fingerprint())
        .build()
        .unwrap();
    right.server().await.unwrap();
    assert!(server.faults().requests_seen() > 0);
}

#[tokio::test]
async fn a_wrong_pinned_certificate_is_refused_before_any_request() {
    let server = https_server().await;
    let other = ClientCertificate::generate("not-the-server").unwrap();
    let client = ClientBuilder::https(server.https_url().unwrap())
        .server_certificate_pem(other.certificate_pem.as_bytes())
        .build()
        .unwrap();
    let error = client.instances().list_names().await.unwrap_err();
    refused_before_any_request(&server, &error);
}

#[tokio::test]
async fn a_malformed_pin_is_refused_at_build() {
    for bad in ["", "zz", &"ab".repeat(31), &"ab".repeat(33)] {
        let error = ClientBuilder::https("127.0.0.1:8443")
            .server_fingerprint(bad)
            .build()
            .unwrap_err();
        assert!(!error.to_string().is_empty(), "{bad:?}");
    }
    let error = ClientBuilder::https("127.0.0.1:8443")
        .server_certificate_pem(b"not a certificate")
        .build()
        .unwrap_err();
    assert!(!error.to_string().is_empty());
}

#[tokio::test]
async fn plain_http_is_refused() {
    let server = https_server().await;
    let address = server.https_address().unwrap();
    // There is no plain-HTTP option at all: an `http://` address is refused at build time,
    // with an error that says why, and nothing is sent.
    let error = ClientBuilder::https(format!("http://{address}"))
        .build()
        .unwrap_err();
    let says_why = |error: &lxd_client::Error| {
        let text = error.to_string().to_lowercase();
        text.contains("http://") && (text.contains("refused") || text.contains("scheme"))
    };
    assert!(says_why(&error), "{error}");
    let error = Client::https(format!("http://{address}"))
        .danger_accept_any_server_certificate()
        .build()
        .unwrap_err();
    assert!(says_why(&error), "{error}");
    assert_eq!(server.faults().requests_seen(), 0);
}

#[tokio::test]
async fn an_untrusted_client_gets_a_clear_not_trusted_error() {
    let server = https_server().await;
    for cert in [None, Some(ClientCertificate::generate("stranger").unwrap())] {
        let mut builder = ClientBuilder::https(server.https_url().unwrap())
            .server_fingerprint(server.certificate_fingerprint());
        if let Some(cert) = &cert {
            builder = builder
                .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes());
        }
        let client = builder.build().unwrap();
        assert!(!client.trusted().await.unwrap());
        let error = client.instances().list_names().await.unwrap_err();
        assert!(error.is_forbidden(), "{error:?}");
        assert_eq!(error.status(), Some(403));
        let text = error.to_string();
        assert!(text.contains("not authorized"), "{text}");
        assert!(text.contains("/1.0/instances"), "{text}");
    }
}

#[tokio::test]
async fn key_files_are_private() {
    // The library writes no key file (it reads `client.key` from lxc's directory only); the
    // test server writes its `server.key` like LXD does: owner-only.
    let server = https_server().await;
    let mode = std::fs::metadata(server.dir().join("server.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "server.key mode {mode:o}");
}
