//! What every copy between two servers shares (instances, custom volumes, images): how the
//! data travels, where each server can be reached, and the client-side relay.
//!
//! LXD moves data in one of three ways, and a pair of servers allows what their network
//! allows:
//! - **pull**: the target connects to the source's migration operation (the source must be
//!   reachable from the target);
//! - **push**: the source connects to the target's operation (the target must be reachable
//!   from the source);
//! - **relay**: this client connects to both operations and copies the frames between them
//!   (only the client needs to reach both; the data passes through it, streamed).

use std::collections::BTreeMap;

use futures::{SinkExt, StreamExt};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::operation::Operation;

/// How the data travels between the two servers of a copy or migration.
///
/// ```
/// use lxd_client::MigrationMode;
/// assert_eq!(MigrationMode::default(), MigrationMode::Auto);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationMode {
    /// Pull if the source listens on the network, else push if the target does, else relay.
    #[default]
    Auto,
    /// The target connects to the source.
    Pull,
    /// The source connects to the target.
    Push,
    /// The client connects to both and relays the data.
    Relay,
}

/// Where one server of a pair can be reached by the other, and who it is (from `GET /1.0`,
/// which shows these to trusted clients only).
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// `host:port` addresses its API listens on.
    pub addresses: Vec<String>,
    /// Its certificate (PEM): the other server pins it.
    pub certificate: String,
    /// Its name (a cluster member's name, or the host name), for messages.
    pub name: String,
}

impl Peer {
    pub(crate) async fn of(client: &Client, role: &str) -> Result<Peer> {
        let server = client.server().await?;
        if server.environment.certificate.is_empty() {
            return Err(Error::invalid(
                "migration",
                format!(
                    "the {role} server does not trust this client (its GET /1.0 shows no \
                     certificate); authenticate first"
                ),
            ));
        }
        Ok(Peer {
            addresses: server.environment.addresses.clone(),
            certificate: server.environment.certificate.clone(),
            name: server.environment.server_name.clone(),
        })
    }

    /// The same server, or members of the same cluster (which share one certificate): a
    /// copy there is local, without a migration.
    pub(crate) fn same_as(&self, other: &Peer) -> bool {
        self.certificate.trim() == other.certificate.trim()
    }

    /// The URL another server uses for our operation `id` at `address`.
    pub(crate) fn operation_url(address: &str, id: &str) -> String {
        format!(
            "https://{address}/1.0/operations/{}",
            crate::path::segment(id)
        )
    }
}

/// The mode to use for this pair: `Auto` resolved, an impossible explicit choice refused.
pub(crate) fn resolve_mode(
    mode: MigrationMode,
    source: &Peer,
    target: &Peer,
) -> Result<MigrationMode> {
    let unreachable = |side: &str, name: &str, hint: &str| {
        Err(Error::invalid(
            "migration mode",
            format!(
                "the {side} server ({name}) listens on no network address (core.https_address), \
                 so the other server cannot connect to it; {hint}"
            ),
        ))
    };
    match mode {
        MigrationMode::Auto if !source.addresses.is_empty() => Ok(MigrationMode::Pull),
        MigrationMode::Auto if !target.addresses.is_empty() => Ok(MigrationMode::Push),
        MigrationMode::Auto => Ok(MigrationMode::Relay),
        MigrationMode::Pull if source.addresses.is_empty() => {
            unreachable("source", &source.name, "use push or relay")
        }
        MigrationMode::Push if target.addresses.is_empty() => {
            unreachable("target", &target.name, "use pull or relay")
        }
        mode => Ok(mode),
    }
}

/// The websocket secrets of a migration operation, by channel (`control`, `fs`, `criu`).
///
/// Unlike exec's (under `fds`), a migration operation's metadata IS the channel map (LXD
/// 5.0: `{"control": "...", "fs": "..."}`); newer servers add non-secret keys such as
/// `entity_url`, which are left out.
fn secrets_of(op: &Operation, side: &str) -> Result<BTreeMap<String, String>> {
    let secrets: BTreeMap<String, String> = op
        .info()
        .metadata_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != "entity_url")
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect();
    match secrets.contains_key("control") {
        true => Ok(secrets),
        false => Err(Error::malformed(
            format!("the {side} migration operation {}", op.id()),
            "no websocket secrets (control) in its metadata",
            b"",
        )),
    }
}

/// Whether a failure of the target to reach one address is worth trying the next address
/// for (LXD's text for a failed dial), rather than a real refusal.
fn is_connection_failure(error: &Error) -> bool {
    let text = error.to_string().to_lowercase();
    [
        "connection refused",
        "no route to host",
        "i/o timeout",
        "dial tcp",
        "network is unreachable",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// Runs `attempt` for each address until one gets past connecting; the errors of all
/// addresses tried are reported together if none does.
pub(crate) async fn try_addresses<T, F, Fut>(addresses: &[String], mut attempt: F) -> Result<T>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut failures = Vec::new();
    for address in addresses {
        match attempt(address.clone()).await {
            Ok(value) => return Ok(value),
            Err(e) if is_connection_failure(&e) && failures.len() + 1 < addresses.len() => {
                failures.push(format!("{address}: {e}"));
            }
            Err(e) if failures.is_empty() => return Err(e),
            Err(e) => {
                failures.push(format!("{address}: {e}"));
                return Err(Error::invalid(
                    "migration",
                    format!(
                        "no address of the other server worked: {}",
                        failures.join("; ")
                    ),
                ));
            }
        }
    }
    Err(Error::invalid(
        "migration",
        "the other server lists no address to connect to",
    ))
}

/// What one side of a migration hands the other: the URL of its migration operation (at an
/// address the other can reach), its certificate to pin, and the websocket secrets.
#[derive(Clone)]
pub(crate) struct Handoff {
    pub operation: String,
    pub certificate: String,
    pub secrets: BTreeMap<String, String>,
}

/// Runs one migration between two servers in `mode`, whatever is migrated (an instance, a
/// volume): `start_source` asks the source for its migration operation (with the target's
/// [`Handoff`] in push mode), `start_target` asks the target to receive (`"pull"` with the
/// source's handoff, or `"push"`). Both operations are awaited; on a failure the other
/// side's operation is cancelled, so nothing is left waiting for a peer that never comes.
pub(crate) async fn transfer<S, SF, T, TF>(
    mode: MigrationMode,
    (source, source_peer): (&Client, &Peer),
    (target, target_peer): (&Client, &Peer),
    start_source: S,
    start_target: T,
) -> Result<()>
where
    S: Fn(Option<Handoff>) -> SF,
    SF: std::future::Future<Output = Result<Operation>>,
    T: Fn(&'static str, Option<Handoff>) -> TF,
    TF: std::future::Future<Output = Result<Operation>>,
{
    match resolve_mode(mode, source_peer, target_peer)? {
        MigrationMode::Push => {
            let target_op = start_target("push", None).await?;
            let secrets = secrets_of(&target_op, "target")?;
            let source_done = try_addresses(&target_peer.addresses, |address| {
                let started = start_source(Some(Handoff {
                    operation: Peer::operation_url(&address, target_op.id()),
                    certificate: target_peer.certificate.clone(),
                    secrets: secrets.clone(),
                }));
                async move { started.await?.wait().await }
            })
            .await;
            if source_done.is_err() {
                let _ = target_op.cancel().await;
            }
            source_done?;
            target_op.wait().await?;
        }
        MigrationMode::Relay => {
            let source_op = start_source(None).await?;
            let target_op = match start_target("push", None).await {
                Ok(op) => op,
                Err(e) => {
                    let _ = source_op.cancel().await;
                    return Err(e);
                }
            };
            let task = match relay(source, &source_op, target, &target_op).await {
                Ok(task) => task,
                Err(e) => {
                    let _ = source_op.cancel().await;
                    let _ = target_op.cancel().await;
                    return Err(e);
                }
            };
            let target_done = target_op.wait().await;
            let source_done = source_op.wait().await;
            let _ = task.await;
            // The target's verdict first: it says what arrived.
            target_done.and(source_done)?;
        }
        // Pull (Auto is resolved by now).
        _ => {
            let source_op = start_source(None).await?;
            let secrets = secrets_of(&source_op, "source")?;
            let target_done = try_addresses(&source_peer.addresses, |address| {
                let started = start_target(
                    "pull",
                    Some(Handoff {
                        operation: Peer::operation_url(&address, source_op.id()),
                        certificate: source_peer.certificate.clone(),
                        secrets: secrets.clone(),
                    }),
                );
                async move { started.await?.wait().await }
            })
            .await;
            if target_done.is_err() {
                let _ = source_op.cancel().await;
            }
            target_done?;
            source_op.wait().await?;
        }
    }
    Ok(())
}

/// Connects every channel of the source operation to the same channel of the target
/// operation and copies websocket frames both ways (the control channel talks both ways;
/// the data channels flow source to target). The task ends when every channel has closed;
/// how the transfer went is for the operations to say.
async fn relay(
    source: &Client,
    source_op: &Operation,
    target: &Client,
    target_op: &Operation,
) -> Result<JoinHandle<()>> {
    let source_secrets = secrets_of(source_op, "source")?;
    let target_secrets = secrets_of(target_op, "target")?;
    if let Some(missing) = target_secrets
        .keys()
        .find(|channel| !source_secrets.contains_key(*channel))
    {
        return Err(Error::invalid(
            "migration",
            format!("the target expects a {missing:?} channel that the source does not offer"),
        ));
    }
    // Control first: LXD's side expects it before the data channels.
    let mut channels: Vec<&String> = target_secrets.keys().collect();
    channels.sort_by_key(|c| *c != "control");
    let mut pairs = Vec::new();
    for channel in channels {
        let from = operation_websocket(source, source_op.id(), &source_secrets[channel]).await?;
        let to = operation_websocket(target, target_op.id(), &target_secrets[channel]).await?;
        pairs.push((channel.clone(), from, to));
    }
    Ok(tokio::spawn(async move {
        let tasks: Vec<_> = pairs
            .into_iter()
            .map(|(channel, from, to)| tokio::spawn(pipe(channel, from, to)))
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }))
}

async fn operation_websocket(
    client: &Client,
    id: &str,
    secret: &str,
) -> Result<lxd_transport::WebSocket> {
    // Operations are global: no project on this path.
    let path = format!("/1.0/operations/{}/websocket", crate::path::segment(id));
    Ok(client
        .transport()
        .websocket(&path, &[("secret", secret)])
        .await?)
}

/// Copies frames both ways until either side closes or fails, then drops both (as LXD's own
/// proxy does). A channel's end is not judged here: LXD closes without a closing handshake
/// when it is done, and a real failure shows in the operations, whose verdict the caller
/// reads (with LXD's message).
async fn pipe(channel: String, source: lxd_transport::WebSocket, target: lxd_transport::WebSocket) {
    let (mut source_tx, mut source_rx) = source.split();
    let (mut target_tx, mut target_rx) = target.split();
    let forward = async {
        while let Some(message) = source_rx.next().await {
            let message = message.map_err(|e| ("reading the source", e))?;
            target_tx
                .send(message)
                .await
                .map_err(|e| ("writing to the target", e))?;
        }
        Ok::<(), (&str, lxd_transport::tungstenite::Error)>(())
    };
    let backward = async {
        while let Some(message) = target_rx.next().await {
            let message = message.map_err(|e| ("reading the target", e))?;
            source_tx
                .send(message)
                .await
                .map_err(|e| ("writing to the source", e))?;
        }
        Ok(())
    };
    let ended = tokio::select! {
        result = forward => result,
        result = backward => result,
    };
    match ended {
        Ok(()) => tracing::debug!(channel = %channel, "migration relay: channel closed"),
        Err((what, e)) => tracing::debug!(channel = %channel, "migration relay: {what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addresses: &[&str]) -> Peer {
        Peer {
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            certificate: "PEM".into(),
            name: "x".into(),
        }
    }

    #[test]
    fn auto_picks_what_the_network_allows() {
        let (open, closed) = (peer(&["10.0.0.1:8443"]), peer(&[]));
        let auto = MigrationMode::Auto;
        assert_eq!(
            resolve_mode(auto, &open, &open).unwrap(),
            MigrationMode::Pull
        );
        assert_eq!(
            resolve_mode(auto, &closed, &open).unwrap(),
            MigrationMode::Push
        );
        assert_eq!(
            resolve_mode(auto, &closed, &closed).unwrap(),
            MigrationMode::Relay
        );
        // An explicit mode the pair cannot use is refused, naming what would work.
        let err = resolve_mode(MigrationMode::Pull, &closed, &open).unwrap_err();
        assert!(
            err.is_invalid_input() && err.to_string().contains("push or relay"),
            "{err}"
        );
        let err = resolve_mode(MigrationMode::Push, &open, &closed).unwrap_err();
        assert!(err.to_string().contains("pull or relay"), "{err}");
        assert_eq!(
            resolve_mode(MigrationMode::Relay, &closed, &closed).unwrap(),
            MigrationMode::Relay
        );
    }

    #[tokio::test]
    async fn addresses_are_tried_only_past_connection_failures() {
        let refused = || Error::Api {
            status: 500,
            message: "dial tcp 10.0.0.1:8443: connect: connection refused".into(),
            method: "POST".into(),
            path: "/1.0/instances".into(),
        };
        let addresses = vec!["a".to_string(), "b".to_string()];
        // The first refuses the connection, the second works.
        let mut tried = Vec::new();
        let got = try_addresses(&addresses, |a| {
            tried.push(a.clone());
            let result = if a == "a" { Err(refused()) } else { Ok(a) };
            async move { result }
        })
        .await
        .unwrap();
        assert_eq!((got.as_str(), tried.len()), ("b", 2));
        // A real refusal (not a connection failure) stops at once, with LXD's error.
        let mut tried = 0;
        let err = try_addresses(&addresses, |_| {
            tried += 1;
            async { Err::<(), _>(Error::invalid("x", "refused for a reason")) }
        })
        .await
        .unwrap_err();
        assert_eq!(tried, 1);
        assert!(err.to_string().contains("refused for a reason"));
        // Every address failing to connect: all are named.
        let err = try_addresses(&addresses, |_| async { Err::<(), _>(refused()) })
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("a:") && text.contains("b:"), "{text}");
        // No address at all.
        let err = try_addresses(&[], |_| async { Ok(()) }).await.unwrap_err();
        assert!(err.to_string().contains("no address"), "{err}");
    }
}
