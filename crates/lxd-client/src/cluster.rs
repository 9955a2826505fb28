//! Clustering (`/1.0/cluster`): the cluster, its members (update, rename, remove, evacuate,
//! restore), join tokens for new members, cluster groups and the cluster certificate.
//! Server-wide: these calls ignore the client's project.
//!
//! Placing an instance on a member is [`Instances::create_on`](crate::Instances::create_on);
//! where an instance runs is its [`location`](lxd_proto::Instance::location).

use lxd_proto::{
    ClusterCertificatePut, ClusterEvacuateMode, ClusterGroup, ClusterGroupPost, ClusterGroupPut,
    ClusterGroupsPost, ClusterMember, ClusterMemberAction, ClusterMemberJoinToken,
    ClusterMemberPost, ClusterMemberPut, ClusterMemberState, ClusterMemberStatePost,
    ClusterMembersPost, ClusterPut, OperationClass, StatusCode,
};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::collection::{Collection, CollectionPath};
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::operation::Operation;
use crate::path::validate_hex_key;

/// The cluster manager, from [`Client::cluster`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let cluster = client.cluster();
/// for member in cluster.members().list().await? {
///     println!("{} {} {}", member.server_name, member.url, member.status);
/// }
/// let token = cluster.create_join_token("node4").await?;
/// println!("lxd init --preseed with cluster_token: {}", token.encoded());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClusterManager {
    client: Client,
}

/// The cluster members, from [`ClusterManager::members`].
#[derive(Debug, Clone)]
pub struct ClusterMembers {
    client: Client,
}

/// The cluster groups, from [`ClusterManager::groups`] (API extension `clustering_groups`).
#[derive(Debug, Clone)]
pub struct ClusterGroups {
    client: Client,
}

impl Client {
    /// The cluster manager.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("clustered: {}", client.cluster().get().await?.enabled);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_get)
    pub fn cluster(&self) -> ClusterManager {
        ClusterManager {
            client: self.without_project(),
        }
    }
}

/// A pending cluster join token: the token and the id of the `token` operation that holds it
/// on the server (deleting that operation revokes the token).
#[derive(Debug, Clone, PartialEq)]
pub struct JoinToken {
    /// The id of the server's token operation.
    pub operation_id: String,
    /// The token (its `Debug` hides the secret).
    pub token: ClusterMemberJoinToken,
}

impl JoinToken {
    /// The token as users paste it (`cluster_token` of a join preseed), as `lxc cluster
    /// add` prints it.
    ///
    /// ```
    /// use lxd_client::{JoinToken, proto::ClusterMemberJoinToken};
    /// let pending = JoinToken {
    ///     operation_id: "8f1e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f".into(),
    ///     token: ClusterMemberJoinToken { server_name: "node4".into(), secret: "s3cret".into(), ..Default::default() },
    /// };
    /// let encoded = pending.encoded(); // base64 of the token's JSON
    /// assert_eq!(ClusterMemberJoinToken::decode(&encoded).unwrap().server_name, "node4");
    /// ```
    pub fn encoded(&self) -> String {
        self.token.encode()
    }
}

/// Checks a cluster member name before it is used in a path or sent: 1 to 255 ASCII
/// letters, digits, `-` and `.` (a host name), not starting or ending with `-` or `.`.
///
/// ```
/// assert!(lxd_client::validate_cluster_member_name("node-1.example").is_ok());
/// assert!(lxd_client::validate_cluster_member_name("node/1").is_err());
/// assert!(lxd_client::validate_cluster_member_name("").is_err());
/// ```
pub fn validate_cluster_member_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::invalid(
            "cluster member name",
            format!("{name:?}: {reason}"),
        ))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 255 {
        return bad("longer than 255 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return bad("only ASCII letters, digits, '-' and '.' are allowed");
    }
    if name.starts_with(['-', '.']) || name.ends_with(['-', '.']) {
        return bad("must not start or end with '-' or '.'");
    }
    Ok(())
}

/// Checks a cluster group name as LXD does: not empty, none of `/`, spaces, `_` or quotes,
/// no control characters.
///
/// ```
/// assert!(lxd_client::validate_cluster_group_name("fast-disks").is_ok());
/// assert!(lxd_client::validate_cluster_group_name("fast_disks").is_err());
/// ```
pub fn validate_cluster_group_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::invalid(
            "cluster group name",
            format!("{name:?}: {reason}"),
        ))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name == "." || name == ".." {
        return bad("reserved");
    }
    if name.contains(['/', ' ', '_', '\'', '"']) || name.chars().any(char::is_control) {
        return bad("must not contain '/', spaces, '_', quotes or control characters");
    }
    Ok(())
}

/// `/1.0/cluster/members`: names checked by [`validate_cluster_member_name`].
const MEMBERS: CollectionPath =
    CollectionPath::new("/1.0/cluster/members", validate_cluster_member_name);

/// `/1.0/cluster/groups`: names checked by [`validate_cluster_group_name`], API extension
/// `clustering_groups`.
const GROUPS: CollectionPath =
    CollectionPath::new("/1.0/cluster/groups", validate_cluster_group_name)
        .with_extension("clustering_groups");

fn member_path(name: &str) -> Result<String> {
    MEMBERS.path(name)
}

impl ClusterManager {
    /// The cluster as the answering member sees it: its name, whether clustering is
    /// enabled, and the member-specific keys a joining server must provide.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let cluster = client.cluster().get().await?;
    /// println!("{} enabled={}", cluster.server_name, cluster.enabled);
    /// for key in &cluster.member_config {
    ///     println!("a new member must set {} {} {}", key.entity, key.name, key.key);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_get)
    pub async fn get(&self) -> Result<lxd_proto::Cluster> {
        self.client.get_json("/1.0/cluster", &[]).await
    }

    /// The cluster with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let cluster = client.cluster().get_with_etag().await?;
    /// println!("{:?}", cluster.etag);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_get)
    pub async fn get_with_etag(&self) -> Result<Versioned<lxd_proto::Cluster>> {
        self.client.get_versioned("/1.0/cluster", &[]).await
    }

    /// Bootstraps a cluster on a standalone server, or joins one (`PUT /1.0/cluster`), as
    /// `request` says; see [`ClusterPut`]. The server must listen on HTTPS
    /// (`core.https_address`) first.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::ClusterPut;
    /// client
    ///     .cluster()
    ///     .update(&ClusterPut { server_name: "node1".into(), enabled: true, ..Default::default() }, None)
    ///     .await?
    ///     .wait()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_put)
    pub async fn update(&self, request: &ClusterPut, etag: Option<&ETag>) -> Result<Operation> {
        if request.enabled && !request.server_name.is_empty() {
            validate_cluster_member_name(&request.server_name)?;
        }
        let joining = !request.server_address.is_empty()
            || request.cluster_password.is_some()
            || request.cluster_token.is_some()
            || !request.member_config.is_empty();
        if joining {
            self.client.require_api_extension("clustering_join").await?;
        }
        if request.cluster_token.is_some() {
            // The field came with a different extension on each server (LXD 5.0 has neither
            // and would ignore it).
            let extension = self.client.flavor().await?.cluster_token_extension();
            self.client.require_api_extension(extension).await?;
        }
        let reply = self
            .client
            .send_if_match(Method::PUT, "/1.0/cluster", &[], request, etag)
            .await?;
        Operation::from_reply(self.client.clone(), "PUT /1.0/cluster", reply.envelope)
    }

    /// Turns a standalone server into the first member of a new cluster, named
    /// `server_name` (what `lxc cluster enable` does).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().enable("node1").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_put)
    pub async fn enable(&self, server_name: &str) -> Result<Operation> {
        validate_cluster_member_name(server_name)?;
        self.update(
            &ClusterPut {
                server_name: server_name.to_string(),
                enabled: true,
                ..Default::default()
            },
            None,
        )
        .await
    }

    /// Replaces the certificate and key every member serves (API extension
    /// `clustering_update_cert`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::ClusterCertificatePut;
    /// client
    ///     .cluster()
    ///     .update_certificate(
    ///         &ClusterCertificatePut {
    ///             cluster_certificate: std::fs::read_to_string("cluster.crt").unwrap(),
    ///             cluster_certificate_key: std::fs::read_to_string("cluster.key").unwrap(),
    ///             ..Default::default()
    ///         },
    ///         None,
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/clustering_update_cert)
    pub async fn update_certificate(
        &self,
        request: &ClusterCertificatePut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        if !request.cluster_certificate.contains("-----BEGIN") {
            return Err(Error::invalid(
                "cluster certificate",
                "expected a PEM certificate",
            ));
        }
        if !request.cluster_certificate_key.contains("-----BEGIN") {
            return Err(Error::invalid(
                "cluster certificate key",
                "expected a PEM private key",
            ));
        }
        self.client
            .require_api_extension("clustering_update_cert")
            .await?;
        self.client
            .write_if_match(Method::PUT, "/1.0/cluster/certificate", &[], request, etag)
            .await
    }

    /// The members.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.cluster().members().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_members_get)
    pub fn members(&self) -> ClusterMembers {
        ClusterMembers {
            client: self.client.clone(),
        }
    }

    /// The cluster groups.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.cluster().groups().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_groups_get)
    pub fn groups(&self) -> ClusterGroups {
        ClusterGroups {
            client: self.client.clone(),
        }
    }

    /// Creates a join token for a new member that will join as `server_name` (API
    /// extension `clustering_join_token`; what `lxc cluster add` does). The token is single
    /// use and expires (`cluster.join_token_expiry`, 3 hours by default).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let token = client.cluster().create_join_token("node4").await?;
    /// println!("{}", token.encoded());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_members_post)
    pub async fn create_join_token(&self, server_name: &str) -> Result<JoinToken> {
        validate_cluster_member_name(server_name)?;
        self.client
            .require_api_extension("clustering_join_token")
            .await?;
        let request = ClusterMembersPost {
            server_name: server_name.to_string(),
            ..Default::default()
        };
        let op = self
            .client
            .send_operation(Method::POST, "/1.0/cluster/members", &[], Some(&request))
            .await?;
        let token = ClusterMemberJoinToken::from_operation(op.info()).ok_or_else(|| {
            Error::malformed(
                "POST /1.0/cluster/members",
                "the token operation lacks the join token fields",
                b"",
            )
        })?;
        Ok(JoinToken {
            operation_id: op.id().to_string(),
            token,
        })
    }

    /// The join tokens not used yet: running `token` operations (of any member) that carry
    /// a cluster join token (certificate add tokens and image tokens are left out).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for t in client.cluster().list_join_tokens().await? {
    ///     println!("{} expires {}", t.token.server_name, t.token.expires_at);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operations_get_recursion1)
    pub async fn list_join_tokens(&self) -> Result<Vec<JoinToken>> {
        let operations = self.client.operations().list().await?;
        Ok(operations
            .iter()
            .filter(|op| op.class == OperationClass::Token && op.status_code == StatusCode::RUNNING)
            .filter_map(|op| {
                ClusterMemberJoinToken::from_operation(op).map(|token| JoinToken {
                    operation_id: op.id.clone(),
                    token,
                })
            })
            .collect())
    }

    /// Revokes the pending join token for a member name, or the token given in its encoded
    /// form (what `lxc cluster revoke-token` does). Fails with [`Error::InvalidInput`] when
    /// no such token is pending.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().revoke_join_token("node4").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_delete)
    pub async fn revoke_join_token(&self, name_or_token: &str) -> Result<()> {
        // A member name is checked like any; anything else must decode as a token.
        let by_secret = match validate_cluster_member_name(name_or_token) {
            Ok(()) => None,
            Err(name_error) => Some(
                ClusterMemberJoinToken::decode(name_or_token)
                    .map_err(|_| name_error)?
                    .secret,
            ),
        };
        let pending = self.list_join_tokens().await?;
        let found = pending.iter().find(|t| match &by_secret {
            Some(secret) => &t.token.secret == secret,
            None => t.token.server_name == name_or_token,
        });
        let Some(found) = found else {
            let what = match by_secret {
                Some(_) => "the given token".to_string(),
                None => format!("member {name_or_token:?}"),
            };
            return Err(Error::invalid(
                "join token",
                format!("no pending cluster join token for {what}"),
            ));
        };
        self.revoke_join_token_by_id(&found.operation_id).await
    }

    /// Revokes a join token by its operation id ([`JoinToken::operation_id`]).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let cluster = client.cluster();
    /// let token = cluster.create_join_token("node4").await?;
    /// cluster.revoke_join_token_by_id(&token.operation_id).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_delete)
    pub async fn revoke_join_token_by_id(&self, operation_id: &str) -> Result<()> {
        validate_hex_key("token operation id", operation_id)?;
        self.client.operations().cancel(operation_id).await
    }
}

impl ClusterMembers {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        MEMBERS.on(&self.client)
    }

    /// The members' names.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.cluster().members().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_members_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.collection().names().await
    }

    /// Every member, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for m in client.cluster().members().list().await? {
    ///     println!("{} {} {} {:?}", m.server_name, m.url, m.status, m.roles);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_members_get_recursion1)
    pub async fn list(&self) -> Result<Vec<ClusterMember>> {
        self.collection().list().await
    }

    /// One member.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let m = client.cluster().members().get("node2").await?;
    /// println!("{} {}", m.status, m.message);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_get)
    pub async fn get(&self, name: &str) -> Result<ClusterMember> {
        self.collection().get(name).await
    }

    /// One member with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let members = client.cluster().members();
    /// let m = members.get_with_etag("node2").await?;
    /// let mut put = m.writable();
    /// put.description = "rack 4".into();
    /// members.update("node2", &put, m.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<ClusterMember>> {
        self.collection().get_versioned(name).await
    }

    /// Whether a member with this name exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.cluster().members().exists("node2").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        self.collection().exists(name).await
    }

    /// Replaces a member's writable fields (description, roles, failure domain, config,
    /// groups), optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let members = client.cluster().members();
    /// let mut put = members.get("node2").await?.writable();
    /// put.failure_domain = "rack2".into();
    /// members.update("node2", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_put)
    pub async fn update(
        &self,
        name: &str,
        put: &ClusterMemberPut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = member_path(name)?;
        self.client
            .require_api_extension("clustering_edit_roles")
            .await?;
        self.client
            .write_if_match(Method::PUT, &path, &[], put, etag)
            .await
    }

    /// `PATCH` a member, optionally only if unchanged since `etag`. LXD (5.0 at least)
    /// merges only `config` and takes the rest as a `PUT`: send the roles, groups and
    /// failure domain along, or it refuses ("The \"database\" role cannot be dropped").
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let members = client.cluster().members();
    /// let m = members.get("node2").await?;
    /// let body = serde_json::json!({"config": {"user.rack": "4"}, "roles": m.roles,
    ///     "groups": m.groups, "failure_domain": m.failure_domain, "description": m.description});
    /// members.patch("node2", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.collection().patch(name, body, etag).await
    }

    /// Renames a member (LXD refuses a name in use with a conflict).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().members().rename("node2", "db2").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let path = member_path(name)?;
        validate_cluster_member_name(new_name)?;
        let request = ClusterMemberPost {
            server_name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .write(Method::POST, &path, &[], Some(&request))
            .await
    }

    /// Removes a member from the cluster. LXD refuses while it holds instances or
    /// storage volumes; `force` removes it anyway (for a member that is gone for good:
    /// whatever it held is lost, and a forced-out server must be wiped before it rejoins).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().members().remove("node2", false).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_delete)
    pub async fn remove(&self, name: &str, force: bool) -> Result<()> {
        let path = member_path(name)?;
        let query: &[(&str, &str)] = if force { &[("force", "1")] } else { &[] };
        self.client
            .write::<()>(Method::DELETE, &path, query, None)
            .await
    }

    /// A member's system and storage figures (API extension `cluster_member_state`; LXD
    /// 5.0.2 lacks it, so this fails with [`Error::MissingExtension`] there before any
    /// request).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let state = client.cluster().members().state("node2").await?;
    /// println!("load {:?}", state.sysinfo.load_averages);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_state_get)
    pub async fn state(&self, name: &str) -> Result<ClusterMemberState> {
        let path = format!("{}/state", member_path(name)?);
        self.client
            .require_api_extension("cluster_member_state")
            .await?;
        self.client.get_json(&path, &[]).await
    }

    /// Evacuates a member: nothing is placed on it any more, and each of its instances is
    /// stopped or moved to another member as its `cluster.evacuate` setting says (`auto`:
    /// moved when all its devices can move, stopped otherwise). Ends with the member
    /// `Evacuated`; see [`restore`](Self::restore).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let members = client.cluster().members();
    /// members.evacuate("node2").await?.wait().await?;
    /// // ... maintenance ...
    /// members.restore("node2").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_state_post)
    pub async fn evacuate(&self, name: &str) -> Result<Operation> {
        self.set_state(
            name,
            &ClusterMemberStatePost::new(ClusterMemberAction::Evacuate),
        )
        .await
    }

    /// Evacuates a member overriding every instance's `cluster.evacuate` with `mode` (API
    /// extension `clustering_evacuation_mode`, which LXD 5.0.2 lacks).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::ClusterEvacuateMode;
    /// client.cluster().members().evacuate_with_mode("node2", ClusterEvacuateMode::Stop).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_state_post)
    pub async fn evacuate_with_mode(
        &self,
        name: &str,
        mode: ClusterEvacuateMode,
    ) -> Result<Operation> {
        let mut request = ClusterMemberStatePost::new(ClusterMemberAction::Evacuate);
        request.mode = Some(mode);
        self.set_state(name, &request).await
    }

    /// Restores an evacuated member: it takes instances again, the instances moved away
    /// come back, and those stopped by the evacuation start again.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().members().restore("node2").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_state_post)
    pub async fn restore(&self, name: &str) -> Result<Operation> {
        self.set_state(
            name,
            &ClusterMemberStatePost::new(ClusterMemberAction::Restore),
        )
        .await
    }

    /// Evacuates or restores a member as `request` says. Options a server lacks are refused
    /// with [`Error::MissingExtension`] before any request (a `mode` needs
    /// `clustering_evacuation_mode`, restore mode `skip` `clustering_restore_skip_mode`,
    /// `force` `clustering_evacuation_force`): LXD would silently ignore them.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{ClusterMemberAction, ClusterMemberStatePost};
    /// let request = ClusterMemberStatePost::new(ClusterMemberAction::Evacuate);
    /// client.cluster().members().set_state("node2", &request).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_state_post)
    pub async fn set_state(
        &self,
        name: &str,
        request: &ClusterMemberStatePost,
    ) -> Result<Operation> {
        let path = format!("{}/state", member_path(name)?);
        if !request.action.is_known() {
            return Err(Error::invalid(
                "cluster member action",
                format!(
                    "{:?}: expected evacuate or restore",
                    request.action.as_str()
                ),
            ));
        }
        self.client
            .require_api_extension("clustering_evacuation")
            .await?;
        if let Some(mode) = &request.mode {
            let extension = match (&request.action, mode) {
                (ClusterMemberAction::Restore, ClusterEvacuateMode::Skip) => {
                    "clustering_restore_skip_mode"
                }
                (ClusterMemberAction::Restore, _) => {
                    return Err(Error::invalid(
                        "cluster restore mode",
                        format!("{mode}: a restore takes only mode skip"),
                    ));
                }
                _ => "clustering_evacuation_mode",
            };
            self.client.require_api_extension(extension).await?;
        }
        if request.force {
            self.client
                .require_api_extension("clustering_evacuation_force")
                .await?;
        }
        self.client
            .send_operation(Method::POST, &path, &[], Some(request))
            .await
    }
}

impl ClusterGroups {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        GROUPS.on(&self.client)
    }

    async fn require(&self) -> Result<()> {
        self.client.require_api_extension("clustering_groups").await
    }

    /// The groups' names.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.cluster().groups().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_groups_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.collection().names().await
    }

    /// Every group, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for g in client.cluster().groups().list().await? {
    ///     println!("{}: {:?}", g.name, g.members);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_groups_get_recursion1)
    pub async fn list(&self) -> Result<Vec<ClusterGroup>> {
        self.collection().list().await
    }

    /// One group.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.cluster().groups().get("default").await?.members);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_get)
    pub async fn get(&self, name: &str) -> Result<ClusterGroup> {
        self.collection().get(name).await
    }

    /// One group with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let groups = client.cluster().groups();
    /// let g = groups.get_with_etag("fast").await?;
    /// let mut put = g.writable();
    /// put.description = "NVMe members".into();
    /// groups.update("fast", &put, g.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<ClusterGroup>> {
        self.collection().get_versioned(name).await
    }

    /// Whether a group with this name exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.cluster().groups().exists("fast").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        self.collection().exists(name).await
    }

    /// Creates a group, optionally with members.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::ClusterGroupsPost;
    /// client
    ///     .cluster()
    ///     .groups()
    ///     .create(&ClusterGroupsPost { name: "fast".into(), members: vec!["node1".into()], ..Default::default() })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_groups_post)
    pub async fn create(&self, request: &ClusterGroupsPost) -> Result<()> {
        for member in &request.members {
            validate_cluster_member_name(member)?;
        }
        self.collection().create(&request.name, request).await
    }

    /// Replaces a group's description and members, optionally only if unchanged since
    /// `etag` (LXD 5.0.2 sends an ETag for a group but does not check it on `PUT`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let groups = client.cluster().groups();
    /// let mut put = groups.get("fast").await?.writable();
    /// put.members.push("node3".into());
    /// groups.update("fast", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_put)
    pub async fn update(
        &self,
        name: &str,
        put: &ClusterGroupPut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        for member in &put.members {
            validate_cluster_member_name(member)?;
        }
        self.collection().update(name, put, etag).await
    }

    /// Changes only what `body` names (`PATCH`), optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"description": "NVMe members"});
    /// client.cluster().groups().patch("fast", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.collection().patch(name, body, etag).await
    }

    /// Renames a group.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().groups().rename("fast", "nvme").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let request = ClusterGroupPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.collection().rename(name, new_name, &request).await
    }

    /// Deletes a group (LXD refuses while it has members or the group is `default`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().groups().delete("nvme").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_delete)
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.collection().delete(name).await
    }

    /// Sets the groups a member belongs to, replacing its current ones (what `lxc cluster
    /// group assign` does), with the member's ETag so a concurrent change is not lost.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().groups().assign("node2", &["default", "fast"]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_put)
    pub async fn assign(&self, member: &str, groups: &[&str]) -> Result<()> {
        validate_cluster_member_name(member)?;
        for group in groups {
            validate_cluster_group_name(group)?;
        }
        self.change_member_groups(member, |current| {
            *current = groups.iter().map(|g| g.to_string()).collect();
        })
        .await
    }

    /// Adds a member to a group, keeping its other groups (`lxc cluster group add`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().groups().add_member("fast", "node2").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_put)
    pub async fn add_member(&self, group: &str, member: &str) -> Result<()> {
        validate_cluster_group_name(group)?;
        validate_cluster_member_name(member)?;
        self.change_member_groups(member, |current| {
            if !current.iter().any(|g| g == group) {
                current.push(group.to_string());
            }
        })
        .await
    }

    /// Takes a member out of a group (`lxc cluster group remove`). LXD refuses to leave a
    /// member in no group at all.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.cluster().groups().remove_member("fast", "node2").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_put)
    pub async fn remove_member(&self, group: &str, member: &str) -> Result<()> {
        validate_cluster_group_name(group)?;
        validate_cluster_member_name(member)?;
        self.change_member_groups(member, |current| current.retain(|g| g != group))
            .await
    }

    /// Reads the member with its ETag, changes its groups, and writes it back if unchanged.
    async fn change_member_groups(
        &self,
        member: &str,
        change: impl FnOnce(&mut Vec<String>),
    ) -> Result<()> {
        self.require().await?;
        let members = ClusterMembers {
            client: self.client.clone(),
        };
        let current = members.get_with_etag(member).await?;
        let mut put = current.writable();
        change(&mut put.groups);
        members.update(member, &put, current.etag.as_ref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        for good in ["node1", "lxd01.example.com", "a", "1node"] {
            assert!(validate_cluster_member_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "-a", "a-", ".a", "a.", "a b", "a?b", "a%2F", "ä"] {
            let err = validate_cluster_member_name(bad).unwrap_err();
            assert!(err.is_invalid_input(), "{bad}: {err}");
        }
        assert!(validate_cluster_member_name(&"a".repeat(256)).is_err());
        assert_eq!(member_path("node1").unwrap(), "/1.0/cluster/members/node1");
    }

    #[test]
    fn group_names() {
        assert!(validate_cluster_group_name("fast-disks").is_ok());
        for bad in ["", "a/b", "a b", "a_b", "a'b", "a\"b", "..", "a\nb"] {
            assert!(validate_cluster_group_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(GROUPS.path("g1").unwrap(), "/1.0/cluster/groups/g1");
    }
}
