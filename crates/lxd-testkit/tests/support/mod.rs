//! Shared helpers of the testkit's own tests: raw requests over the real unix socket or
//! HTTPS (through `lxd-transport`, so nothing here knows LXD's resources), websockets and
//! throwaway client identities.

#![allow(dead_code)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use lxd_testkit::TestServer;
use lxd_transport::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use lxd_transport::tungstenite::Message;
use lxd_transport::{ClientIdentity, Request, ServerTrust, Transport, WebSocket};
use serde_json::Value;

/// A reply: status, headers, raw body and the parsed JSON (Null when not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub json: Value,
}

impl Reply {
    /// `metadata` of the envelope.
    pub fn metadata(&self) -> &Value {
        &self.json["metadata"]
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Raw API access.
#[derive(Clone)]
pub struct Api {
    pub transport: Transport,
}

impl Api {
    pub fn unix(server: &TestServer) -> Api {
        Api {
            transport: Transport::unix_builder(Some(server.socket_path()))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn https(server: &TestServer, identity: Option<ClientIdentity>) -> Api {
        let mut builder = Transport::https_builder(server.https_url().unwrap())
            .server_trust(
                ServerTrust::pinned_fingerprint(server.certificate_fingerprint()).unwrap(),
            )
            .timeout(Duration::from_secs(30));
        if let Some(identity) = identity {
            builder = builder.client_identity(identity);
        }
        Api {
            transport: builder.build().unwrap(),
        }
    }

    pub async fn send(&self, request: Request) -> Reply {
        let response = self.transport.send(request).await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body read");
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut request = Request::new(method, path);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            request = request.query(k, v);
        }
        if let Some(body) = body {
            request = request.json(serde_json::to_vec(&body).unwrap());
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Waits for the operation of an async reply and returns it (final).
    pub async fn wait(&self, reply: &Reply) -> Value {
        assert_eq!(reply.status, StatusCode::ACCEPTED, "not async: {reply:?}");
        let url = reply.json["operation"].as_str().unwrap().to_string();
        let done = self.get(&format!("{url}/wait?timeout=30")).await;
        assert_eq!(done.status, StatusCode::OK, "{done:?}");
        done.metadata().clone()
    }

    /// Sends and waits; insists on operation success.
    pub async fn run(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let reply = self.call(method, path, body).await;
        let op = self.wait(&reply).await;
        assert_eq!(op["status"], "Success", "{op}");
        op
    }

    pub async fn websocket(&self, path: &str, query: &[(&str, &str)]) -> WebSocket {
        self.transport
            .websocket(path, query)
            .await
            .expect("websocket")
    }

    /// Creates and starts an instance from the busybox image.
    pub async fn launch(&self, name: &str) {
        self.run(
            Method::POST,
            "/1.0/instances",
            Some(
                serde_json::json!({"name": name, "source": {"type": "image", "alias": "busybox"}}),
            ),
        )
        .await;
        self.run(
            Method::PUT,
            &format!("/1.0/instances/{name}/state"),
            Some(serde_json::json!({"action": "start"})),
        )
        .await;
    }
}

/// A header for a request.
pub fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap(),
    )
}

/// A fresh client certificate and key (PEM) and the identity built from them.
pub fn client_identity(name: &str) -> (String, ClientIdentity) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, name);
    params.distinguished_name = dn;
    let cert = params.self_signed(&key).unwrap();
    let pem = cert.pem();
    let identity =
        ClientIdentity::from_pem(pem.as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    (pem, identity)
}

/// The next text/binary message, skipping pings; `None` when the socket ends (cleanly or
/// not).
pub async fn next_message(ws: &mut WebSocket) -> Option<Message> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Err(_) => panic!("no websocket message within 10 s"),
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Close(_)))) => return None,
            Ok(Some(Ok(message))) => return Some(message),
        }
    }
}

/// Reads binary messages until the barrier (an empty text message); returns the bytes and
/// whether the barrier came.
pub async fn read_stream(ws: &mut WebSocket) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Some(message) = next_message(ws).await {
        match message {
            Message::Binary(data) => out.extend_from_slice(&data),
            Message::Text(text) if text.is_empty() => return (out, true),
            other => panic!("unexpected message {other:?}"),
        }
    }
    (out, false)
}

/// Sends stdin and the barrier.
pub async fn send_stdin(ws: &mut WebSocket, data: &[u8]) {
    if !data.is_empty() {
        ws.send(Message::binary(data.to_vec())).await.unwrap();
    }
    ws.send(Message::text("")).await.unwrap();
}
