//! HTTPS and the trust store: the generated certificate and its fingerprint, untrusted
//! views and refusals, trust by password and by single-use token, certificates managed by a
//! trusted client, and the same API as over the unix socket.

mod support;

use lxd_testkit::TestServer;
use lxd_transport::http::{Method, StatusCode};
use serde_json::json;
use support::{Api, client_identity};

#[tokio::test]
async fn server_certificate_is_what_the_server_presents() {
    let server = TestServer::builder().https().start().await.unwrap();
    assert!(
        server
            .https_url()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    let on_disk = std::fs::read_to_string(server.dir().join("server.crt")).unwrap();
    assert_eq!(on_disk, server.certificate_pem());
    assert_eq!(
        lxd_transport::Fingerprint::of_pem(server.certificate_pem().as_bytes())
            .unwrap()
            .to_string(),
        server.certificate_fingerprint()
    );
    // Pinning that fingerprint works (the client refuses anything else).
    let api = Api::https(&server, None);
    let info = api.get("/1.0").await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.metadata()["auth"], "untrusted");
    assert!(info.metadata().get("environment").is_none());
    assert!(info.metadata()["api_extensions"].as_array().unwrap().len() > 10);
    let wrong = lxd_transport::Transport::https_builder(server.https_url().unwrap())
        .server_trust(lxd_transport::ServerTrust::pinned_fingerprint(&"ab".repeat(32)).unwrap())
        .build()
        .unwrap();
    assert!(
        wrong
            .send(lxd_transport::Request::new(Method::GET, "/1.0"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn untrusted_clients_are_refused_like_lxd() {
    let server = TestServer::builder()
        .https()
        .trust_password("s3cret")
        .start()
        .await
        .unwrap();
    let (_, identity) = client_identity("stranger");
    let api = Api::https(&server, Some(identity));
    for path in [
        "/1.0/instances",
        "/1.0/operations",
        "/1.0/certificates",
        "/1.0/events",
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(reply.json["error"], "not authorized");
    }
    assert_eq!(api.get("/1.0/images").await.metadata(), &json!([]));
    let wrong = api
        .post(
            "/1.0/certificates",
            json!({"type": "client", "password": "nope"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let token_request = api
        .post("/1.0/certificates", json!({"token": true, "name": "x"}))
        .await;
    assert_eq!(token_request.status, StatusCode::FORBIDDEN);
    // Without a client certificate there is nothing to trust.
    let anonymous = Api::https(&server, None);
    let refused = anonymous
        .post("/1.0/certificates", json!({"password": "s3cret"}))
        .await;
    assert_eq!(refused.json["error"], "No client certificate provided");
}

#[tokio::test]
async fn trust_password_makes_the_same_connection_trusted() {
    let server = TestServer::builder()
        .https()
        .trust_password("s3cret")
        .start()
        .await
        .unwrap();
    let (pem, identity) = client_identity("ci-runner");
    let api = Api::https(&server, Some(identity));
    let added = api
        .post(
            "/1.0/certificates",
            json!({"type": "client", "password": "s3cret"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{added:?}");
    let info = api.get("/1.0").await;
    assert_eq!(info.metadata()["auth"], "trusted");
    assert_eq!(
        info.metadata()["environment"]["certificate_fingerprint"],
        server.certificate_fingerprint()
    );
    let certs = api.get("/1.0/certificates?recursion=1").await;
    let entry = &certs.metadata()[0];
    assert_eq!(
        entry["name"], "ci-runner",
        "the subject CN names it by default"
    );
    assert_eq!(entry["type"], "client");
    assert_eq!(entry["certificate"], pem.replace("\r\n", "\n"));
    let again = api
        .post(
            "/1.0/certificates",
            json!({"type": "client", "password": "s3cret"}),
        )
        .await;
    assert_eq!(again.json["error"], "Client is already trusted");
    // Trusted over HTTPS: the whole API, exec included.
    api.launch("c1").await;
    assert_eq!(
        api.get("/1.0/instances").await.metadata(),
        &json!(["/1.0/instances/c1"])
    );
}

#[tokio::test]
async fn tokens_are_single_use() {
    let server = TestServer::builder().https().start().await.unwrap();
    let local = Api::unix(&server);
    let issued = local
        .post(
            "/1.0/certificates",
            json!({"token": true, "name": "laptop"}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::ACCEPTED);
    let op = issued.metadata().clone();
    assert_eq!(op["class"], "token");
    assert_eq!(op["description"], "Executing operation");
    assert_eq!(op["may_cancel"], true);
    assert_eq!(
        op["metadata"]["fingerprint"],
        server.certificate_fingerprint()
    );
    let operation: lxd_testkit::proto::Operation = serde_json::from_value(op.clone()).unwrap();
    let token = lxd_testkit::proto::CertificateAddToken::from_operation(&operation)
        .expect("the operation carries a token")
        .encode();

    let (_, identity) = client_identity("laptop-cert");
    let api = Api::https(&server, Some(identity));
    // LXD 5.0 takes the whole token in `password`.
    let added = api
        .post(
            "/1.0/certificates",
            json!({"type": "client", "password": token}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{added:?}");
    assert_eq!(api.get("/1.0").await.metadata()["auth"], "trusted");
    let certs = local.get("/1.0/certificates?recursion=1").await;
    assert_eq!(
        certs.metadata()[0]["name"],
        "laptop",
        "the token's name wins"
    );
    let used = local
        .get(&format!("/1.0/operations/{}", op["id"].as_str().unwrap()))
        .await;
    assert_eq!(used.metadata()["status"], "Cancelled");

    let (_, other) = client_identity("second");
    let second = Api::https(&server, Some(other));
    let refused = second
        .post(
            "/1.0/certificates",
            json!({"type": "client", "password": token}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json["error"],
        "No matching certificate add operation found"
    );

    // The helper issues the same kind of token.
    let helper_token = server.trust_token("third").unwrap();
    let (_, third) = client_identity("third-cert");
    let third = Api::https(&server, Some(third));
    let ok = third
        .post("/1.0/certificates", json!({"password": helper_token}))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
}

#[tokio::test]
async fn certificates_added_removed_and_updated_by_a_trusted_client() {
    let server = TestServer::builder().https().start().await.unwrap();
    let local = Api::unix(&server);
    let (pem, identity) = client_identity("robot");
    // LXD 5.0 takes base64 DER, not PEM.
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pem_refused = local
        .post(
            "/1.0/certificates",
            json!({"certificate": pem, "name": "x"}),
        )
        .await;
    assert_eq!(pem_refused.status, StatusCode::BAD_REQUEST);
    let added = local
        .post(
            "/1.0/certificates",
            json!({"certificate": body, "name": "robot", "type": "client"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{added:?}");
    let url = added.header("location").unwrap().to_string();
    let fingerprint = url.rsplit('/').next().unwrap().to_string();
    assert_eq!(fingerprint, identity.fingerprint().to_string());
    let api = Api::https(&server, Some(identity));
    assert_eq!(api.get("/1.0").await.metadata()["auth"], "trusted");
    let dup = local
        .post("/1.0/certificates", json!({"certificate": body}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    // A unique prefix is enough, as in LXD.
    local
        .patch(
            &format!("/1.0/certificates/{}", &fingerprint[..12]),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(local.get(&url).await.metadata()["name"], "renamed");
    assert_eq!(local.delete(&url).await.status, StatusCode::OK);
    assert_eq!(api.get("/1.0").await.metadata()["auth"], "untrusted");
}
