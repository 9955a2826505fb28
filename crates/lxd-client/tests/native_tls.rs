//! The native-tls backend (feature `native-tls`) keeps server trust strict: the pinned
//! certificate is accepted, any other is refused before a request is sent, and a pin by bare
//! fingerprint (which the platform library cannot enforce) is refused when building.
//! Against lxd-testkit's HTTPS server, and against a real LXD when `LXD_IT_HTTPS` and
//! `LXD_IT_SERVER_CERT` are set (the integration harness's variables).
#![cfg(feature = "native-tls")]

use futures::StreamExt;
use lxd_client::Client;
use lxd_client::EventItem;
use lxd_client::proto::{CertificatesPost, EventPayload, EventType, LifecycleAction, ProfilesPost};
use lxd_client::transport::Fingerprint;
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
    let inside = std::env::var("LXD_IT").as_deref() == Ok("1");
    let (Ok(https), Ok(cert_path), Ok(socket)) = (
        std::env::var("LXD_IT_HTTPS"),
        std::env::var("LXD_IT_SERVER_CERT"),
        std::env::var("LXD_IT_SOCKET"),
    ) else {
        // `cargo xtask integration` sets them; there a missing one is a failure.
        assert!(
            !inside,
            "LXD_IT=1 but LXD_IT_HTTPS, LXD_IT_SERVER_CERT or LXD_IT_SOCKET is not set"
        );
        eprintln!(
            "SKIPPED real_lxd_over_native_tls: LXD_IT_HTTPS / LXD_IT_SERVER_CERT / LXD_IT_SOCKET \
             not set (run `cargo xtask integration`)"
        );
        return;
    };
    let pem = std::fs::read(cert_path).unwrap();
    let anonymous = Client::https(https.clone())
        .server_certificate_pem(&pem)
        .native_tls()
        .build()
        .unwrap();
    let info = anonymous.server().await.unwrap();
    assert_eq!(info.auth, "untrusted");

    // A client certificate trusted over the unix socket: its requests are trusted ones,
    // through OpenSSL on both sides of the handshake.
    let cert = ClientCertificate::generate("lxdrs-native-tls").unwrap();
    let local = Client::unix(&socket).unwrap();
    local
        .certificates()
        .add(&CertificatesPost {
            name: "lxdrs-native-tls".into(),
            certificate: cert.certificate_pem.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let fingerprint = Fingerprint::of_pem(cert.certificate_pem.as_bytes())
        .unwrap()
        .to_string();
    let trusted = Client::https(https.clone())
        .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
        .server_certificate_pem(&pem)
        .native_tls()
        .build()
        .unwrap();
    let checked = async {
        let info = trusted.server().await?;
        assert!(info.is_trusted(), "auth: {}", info.auth);
        // A listing answered over HTTPS is the one the unix socket gives.
        let mut over_https = trusted.certificates().list_fingerprints().await?;
        let mut over_socket = local.certificates().list_fingerprints().await?;
        over_https.sort();
        over_socket.sort();
        assert_eq!(over_https, over_socket);
        assert!(over_https.contains(&fingerprint));
        // Websockets take the same connector: an event stream over OpenSSL sees a profile
        // made over the unix socket.
        let mut events = trusted
            .events()
            .types([EventType::Lifecycle])
            .connect()
            .await?;
        let profile = format!("lxdrs-native-tls-{}", std::process::id());
        local
            .profiles()
            .create(&ProfilesPost {
                name: profile.clone(),
                ..Default::default()
            })
            .await?;
        let seen = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(item) = events.next().await {
                if let EventItem::Event(event) = item?
                    && let EventPayload::Lifecycle(l) = &event.payload
                    && l.action == LifecycleAction::ProfileCreated
                    && l.source.ends_with(&format!("/{profile}"))
                {
                    return Ok(true);
                }
            }
            Ok::<bool, lxd_client::Error>(false)
        })
        .await;
        local.profiles().delete(&profile).await?;
        assert!(
            matches!(seen, Ok(Ok(true))),
            "profile-created over the native-tls event stream: {seen:?}"
        );
        Ok::<(), lxd_client::Error>(())
    }
    .await;
    // Whatever happened, the trust entry goes again.
    local.certificates().delete(&fingerprint).await.unwrap();
    checked.unwrap();

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
