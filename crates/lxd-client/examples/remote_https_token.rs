//! Connects to an LXD over HTTPS with a join token, as `lxc remote add <name> <token>` does:
//! the token names the server's addresses and its certificate's fingerprint, which is pinned
//! (no other certificate is accepted, whatever its names); the client certificate is then
//! trusted by presenting the token's secret.
//!
//! ```text
//! # on the server: lxc config trust add --name laptop   (prints a token)
//! cargo run -p lxd-client --example remote_https_token -- <token> [client.crt client.key]
//! # or, with an LXD reachable locally (it must listen on HTTPS), a self-contained demo:
//! cargo run -p lxd-client --example remote_https_token
//! ```
//!
//! Without a token, the example makes one itself over the local (trusted) connection, uses
//! it, and removes the trust entry afterwards; against the embedded lxd-testkit server when
//! there is no LXD (see `examples/common/mod.rs`). Without client certificate files it
//! generates a throwaway one; a real program keeps its certificate, like `lxc`'s
//! `client.crt`.

mod common;

use lxd_client::Client;
use lxd_client::proto::CertificateAddToken;
use lxd_client::transport::ClientIdentity;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("remote_https_token failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let identity = match args.get(1..3) {
        Some([cert, key]) => ClientIdentity::from_pem(&std::fs::read(cert)?, &std::fs::read(key)?)?,
        _ => {
            let generated = lxd_testkit::ClientCertificate::generate("lxd-rs-example")?;
            ClientIdentity::from_pem(
                generated.certificate_pem.as_bytes(),
                generated.key_pem.as_bytes(),
            )?
        }
    };

    // Given a token, use it; else make one on the local server (kept alive in `local`).
    let mut local = None;
    let token = match args.first() {
        Some(token) => token.clone(),
        None => {
            let target = demo_server().await?;
            let token = target
                .client
                .certificates()
                .create_token(&common::unique("lxd-rs-example"))
                .await?;
            local = Some(target);
            token.encoded()
        }
    };

    let outcome = connect_with_token(&token, identity.clone()).await;
    if let Some(target) = &local {
        // The demo's trust entry goes again (it exists only if the token was used).
        let fingerprint = identity.fingerprint().to_string();
        let certificates = target.client.certificates();
        if certificates.exists(&fingerprint).await? {
            certificates.delete(&fingerprint).await?;
            println!("removed the demo's trust entry {}", &fingerprint[..12]);
        }
    }
    outcome
}

/// The local server for the demo: the LXD found in the environment (it must serve HTTPS),
/// else an embedded lxd-testkit server with HTTPS on.
async fn demo_server() -> Result<common::Target, Box<dyn std::error::Error>> {
    let target = common::connect().await?;
    if !target.is_embedded() {
        return Ok(target);
    }
    // The fallback `connect` started has no HTTPS; start one that has.
    let server = common::embedded(true).await?;
    Ok(common::Target {
        client: Client::unix(server.socket_path())?,
        embedded: Some(server),
    })
}

async fn connect_with_token(
    token: &str,
    identity: ClientIdentity,
) -> Result<(), Box<dyn std::error::Error>> {
    let decoded = CertificateAddToken::decode(token)?;
    println!(
        "token for {:?}: server {} at {}",
        decoded.client_name,
        &decoded.fingerprint[..12.min(decoded.fingerprint.len())],
        decoded.addresses.join(", ")
    );
    if decoded.addresses.is_empty() {
        return Err("the token names no address: the server does not listen on HTTPS".into());
    }
    // The first address that answers wins, as with lxc.
    let mut last_error = None;
    for address in &decoded.addresses {
        let client = Client::https(address.clone())
            .client_identity(identity.clone())
            .server_fingerprint(&decoded.fingerprint)
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()?;
        match client.server().await {
            Ok(server) => {
                println!(
                    "connected to {address} (pinned), auth before: {}",
                    server.auth
                );
                client.authenticate(token).await?;
                println!(
                    "auth after the token: trusted = {}",
                    client.trusted().await?
                );
                let names = client.instances().list_names().await?;
                println!("{} instance(s) visible over HTTPS", names.len());
                return Ok(());
            }
            Err(e) => {
                println!("{address}: {e}");
                last_error = Some(e);
            }
        }
    }
    Err(last_error.map_or_else(|| "no address answered".into(), Into::into))
}
