//! The native-tls backend (feature `native-tls`) keeps server trust strict: the pinned
//! certificate is accepted, any other is refused before a request is sent, and a pin by bare
//! fingerprint (which the platform library cannot enforce) is refused when building.
//! Against lxd-testkit's HTTPS server, and against a real LXD when `LXD_IT_HTTPS` and
//! `LXD_IT_SERVER_CERT` are set (the integration harness's variables).
#![cfg(feature = "native-tls")]

use lxd_client::Client;
use lxd_testkit::{ClientCertificate, TestServer};

#[tokio::test]
async fn pinned_certificate_is_strict_and_client_certificates_work() {
    let cert = ClientCertificate::generate("native").unwrap();
    let server = TestServer::builder()
        .https()
        .trust_certificate("native", &cert.certificate_pem)
        .start()
        .await
        .unwrap();
    let url = server.https_url().unwrap();

    let client = Client::https(url.clone())
        .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
        .server_certificate_pem(server.certificate_pem().as_bytes())
        .native_tls()
        .build()
        .unwrap();
    let info = client.server().await.unwrap();
    assert!(
        info.is_trusted(),
        "the client certificate went through: {}",
        info.auth
    );

    // Another server's certificate pinned: the handshake fails, nothing is sent.
    let other = TestServer::builder().https().start().await.unwrap();
    let wrong = Client::https(url.clone())
        .server_certificate_pem(other.certificate_pem().as_bytes())
        .native_tls()
        .build()
        .unwrap();
    let err = wrong.server().await.unwrap_err();
    assert!(err.is_tls() || err.is_connect(), "{err:?}");
    assert!(
        err.status().is_none(),
        "no request reached the server: {err:?}"
    );

    // A bare fingerprint cannot be pinned by the platform library: refused at build.
    let err = Client::https(url)
        .server_fingerprint(server.certificate_fingerprint())
        .native_tls()
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("fingerprint"), "{err}");
}

#[tokio::test]
async fn real_lxd_over_native_tls() {
    let (Ok(https), Ok(cert_path)) = (
        std::env::var("LXD_IT_HTTPS"),
        std::env::var("LXD_IT_SERVER_CERT"),
    ) else {
        eprintln!("SKIPPED real_lxd_over_native_tls: LXD_IT_HTTPS / LXD_IT_SERVER_CERT not set");
        return;
    };
    let pem = std::fs::read(cert_path).unwrap();
    let client = Client::https(https.clone())
        .server_certificate_pem(&pem)
        .native_tls()
        .build()
        .unwrap();
    let info = client.server().await.unwrap();
    assert_eq!(info.auth, "untrusted");

    let other = TestServer::builder().https().start().await.unwrap();
    let err = Client::https(https)
        .server_certificate_pem(other.certificate_pem().as_bytes())
        .native_tls()
        .build()
        .unwrap()
        .server()
        .await
        .unwrap_err();
    assert!(err.is_tls() || err.is_connect(), "{err:?}");
}
