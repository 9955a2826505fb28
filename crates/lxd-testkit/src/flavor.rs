//! Which server the testkit presents itself as: LXD 5.0 (the default), LXD 6 or Incus, LXD's
//! community fork. They share the REST core; this module is the one place that knows where a
//! client sees them differ in the endpoints the testkit implements. Each item notes where it
//! came from: a real Incus 6.0.4, or for LXD 6 (which cannot run here) LXD's REST spec
//! (`doc/rest-api.yaml`), `doc/api-extensions.md` and daemon source at tag `lxd-6.9`.

use crate::extensions::{API_EXTENSIONS, LXD_6_9_EXTENSIONS};

/// The server a [`TestServer`](crate::TestServer) presents itself as, chosen with
/// [`TestServerBuilder::flavor`](crate::TestServerBuilder::flavor). LXD is the default.
///
/// ```
/// use lxd_testkit::ServerFlavor;
///
/// assert_eq!(ServerFlavor::default(), ServerFlavor::Lxd);
/// assert_eq!(ServerFlavor::Incus.name(), "incus");
/// assert_eq!(ServerFlavor::Incus.header_prefix(), "X-Incus-");
/// assert_eq!(ServerFlavor::Lxd6.name(), "lxd");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerFlavor {
    /// Canonical's LXD 5.0 (`environment.server: "lxd"`, `X-LXD-*` headers).
    #[default]
    Lxd,
    /// Canonical's LXD 6.9, as its REST spec describes it: LXD's whole extension list,
    /// network and storage pool writes answered with an operation
    /// (`storage_and_network_operations`), recorded exec output under
    /// `logs/exec-output/`, no trust password, `err_code` on operations.
    Lxd6,
    /// Incus 6.0 (`environment.server: "incus"`, `X-Incus-*` headers, `auth_user_*` in
    /// `GET /1.0`, `X-Incus-Type` on image exports).
    Incus,
}

/// API extensions only Incus has that the testkit implements in Incus mode, each placed
/// after the extension it follows in Incus's own list.
const INCUS_EXTENSIONS: &[(&str, &str)] = &[
    // `auth_user_name` and `auth_user_method` in `GET /1.0`.
    ("instance_file_head", "auth_user"),
];

impl ServerFlavor {
    /// The server's name as `environment.server` of `GET /1.0` gives it: `lxd` or `incus`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ServerFlavor, TestServer};
    /// let server = TestServer::builder().flavor(ServerFlavor::Incus).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let info = client.server().await?;
    /// assert_eq!(info.environment.server, ServerFlavor::Incus.name()); // "incus"
    /// # Ok(()) }
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ServerFlavor::Lxd | ServerFlavor::Lxd6 => "lxd",
            ServerFlavor::Incus => "incus",
        }
    }

    /// The prefix of the files and images API headers: `X-LXD-` or `X-Incus-`
    /// (`X-Incus-uid`, `X-Incus-properties`, ...).
    ///
    /// ```
    /// use lxd_testkit::ServerFlavor;
    /// // The owner header of a file pushed to each flavor.
    /// let uid_header = |flavor: ServerFlavor| format!("{}uid", flavor.header_prefix());
    /// assert_eq!(uid_header(ServerFlavor::Lxd), "X-LXD-uid");
    /// assert_eq!(uid_header(ServerFlavor::Incus), "X-Incus-uid");
    /// ```
    pub fn header_prefix(self) -> &'static str {
        match self {
            ServerFlavor::Lxd | ServerFlavor::Lxd6 => "X-LXD-",
            ServerFlavor::Incus => "X-Incus-",
        }
    }

    /// `environment.server_version`: the version imitated.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ServerFlavor, TestServer};
    /// let server = TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let version = client.server().await?.environment.server_version.clone();
    /// assert_eq!(version, ServerFlavor::Lxd.server_version()); // "5.0.2"
    /// assert_eq!(ServerFlavor::Lxd6.server_version(), "6.9");
    /// # Ok(()) }
    /// ```
    pub fn server_version(self) -> &'static str {
        match self {
            ServerFlavor::Lxd => "5.0.2",
            // The newest LXD release at the time (shared/version/flex.go at tag lxd-6.9), past
            // 6.8 where `storage_and_network_operations` arrived.
            ServerFlavor::Lxd6 => "6.9",
            ServerFlavor::Incus => "6.0.4",
        }
    }

    /// The header `suffix` (`uid`, `properties`, ...) with this flavor's prefix, lower case
    /// as `http` header names are.
    pub(crate) fn header(self, suffix: &str) -> String {
        format!("{}{suffix}", self.header_prefix()).to_ascii_lowercase()
    }

    /// The file header `suffix` of a request. Incus reads `X-Incus-*` and falls back to the
    /// legacy `X-LXD-*` (its `api.ParseFileHeaders`; verified: `X-LXD-uid: 1000` sets the
    /// owner on Incus 6.0.4); LXD reads only `X-LXD-*`.
    pub(crate) fn file_header(self, headers: &http::HeaderMap, suffix: &str) -> Option<String> {
        let get = |name: String| {
            headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        get(self.header(suffix)).or_else(|| match self {
            ServerFlavor::Incus => get(ServerFlavor::Lxd.header(suffix)),
            ServerFlavor::Lxd | ServerFlavor::Lxd6 => None,
        })
    }

    /// Whether `GET /1.0` tells a trusted client who it is (`auth_user_name`,
    /// `auth_user_method`: the `auth_user` extension of Incus and of LXD since 5.x, in
    /// LXD 6.9's `ServerUntrusted`; LXD 5.0.2 does not).
    pub(crate) fn reports_auth_user(self) -> bool {
        matches!(self, ServerFlavor::Incus | ServerFlavor::Lxd6)
    }

    /// Whether `HEAD` in the files API describes a file as its content would be sent
    /// (`Content-Type: application/octet-stream`, `Content-Length`: its size), as Incus
    /// 6.0.4 does and LXD 6.9's `instanceFileHead` does; the LXD 5.0 imitation answers
    /// `application/json` with no length.
    pub(crate) fn head_gives_file_size(self) -> bool {
        matches!(self, ServerFlavor::Incus | ServerFlavor::Lxd6)
    }

    /// The mode of a directory pushed without a mode header: LXD uses 0750 (5.0, and 6.9's
    /// `instance_file.go`), Incus 0755 (both say it is because SFTP knows no umask;
    /// verified on Incus 6.0.4).
    pub(crate) fn default_dir_mode(self) -> u32 {
        match self {
            ServerFlavor::Lxd | ServerFlavor::Lxd6 => 0o750,
            ServerFlavor::Incus => 0o755,
        }
    }

    /// What `X-Incus-Type` says on an image export (`incus`, or `oci` for an OCI image);
    /// LXD sends no such header.
    pub(crate) fn export_type_header(self) -> Option<(String, &'static str)> {
        match self {
            ServerFlavor::Lxd | ServerFlavor::Lxd6 => None,
            ServerFlavor::Incus => Some((self.header("Type"), "incus")),
        }
    }

    /// Whether create, update, rename and delete of networks and storage pools answer with
    /// a background operation (202) that does the work and can fail, as LXD does since 6.8
    /// (`storage_and_network_operations`; `networks.go` and `storage_pools.go` at
    /// lxd-6.9). LXD 5.0 and Incus answer them synchronously.
    pub(crate) fn network_and_pool_writes_are_async(self) -> bool {
        self == ServerFlavor::Lxd6
    }

    /// Whether recorded exec output lives under `/1.0/instances/<name>/logs/exec-output/`
    /// (list, get and delete there; `GET .../logs` lists only the server's own logs and
    /// `.../logs/<file>` refuses an exec output's name with 400), as LXD 6.9's and Incus
    /// 6.0.4's `instance_logs.go` and REST specs have it. LXD 5.0 keeps `exec_*` files among
    /// the logs.
    pub(crate) fn exec_output_has_its_own_dir(self) -> bool {
        matches!(self, ServerFlavor::Lxd6 | ServerFlavor::Incus)
    }

    /// Whether `DELETE /1.0/instances/<name>/logs/<file>` exists: LXD 6.9 dropped it (only
    /// exec output can be deleted, under `exec-output/`), so it answers 501.
    pub(crate) fn deletes_logs(self) -> bool {
        self != ServerFlavor::Lxd6
    }

    /// Whether `POST /1.0/certificates` still takes a trust password. LXD 6.9 answers a
    /// non-empty `password` with 501 "Password authentication is no longer supported,
    /// please update your client" (`certificates.go`); only tokens remain.
    pub(crate) fn takes_trust_password(self) -> bool {
        self != ServerFlavor::Lxd6
    }

    /// Whether operations carry `err_code`, the HTTP status of their failure (0 until they
    /// fail): LXD's `bulk_operations` (6.9's `shared/api/operation.go`).
    pub(crate) fn operations_carry_err_code(self) -> bool {
        self == ServerFlavor::Lxd6
    }

    /// Whether `GET /1.0` says if the client presented a certificate (`client_certificate`,
    /// trusted or not: LXD's `client_cert_presence`, 6.9's `api_1.0.go`).
    pub(crate) fn reports_client_certificate(self) -> bool {
        self == ServerFlavor::Lxd6
    }

    /// Fields LXD 6.9 adds to `environment` in `GET /1.0` that LXD 5.0 lacks (6.9's
    /// `shared/api/server.go` and `api_1.0.go`): not an LTS (`server_lts`), the instance
    /// types its drivers run, the backup metadata versions it reads (1 and 2).
    pub(crate) fn environment_extra(self) -> serde_json::Map<String, serde_json::Value> {
        let mut extra = serde_json::Map::new();
        if self == ServerFlavor::Lxd6 {
            extra.insert("server_lts".into(), false.into());
            extra.insert(
                "instance_types".into(),
                serde_json::json!(["container", "virtual-machine"]),
            );
            extra.insert(
                "backup_metadata_version_range".into(),
                serde_json::json!([1, 2]),
            );
        }
        extra
    }

    /// The API extensions `GET /1.0` lists. For LXD 5.0 and Incus: only those the testkit
    /// implements, in the imitated server's order (Incus keeps LXD's pre-fork names and
    /// order, then adds its own). For LXD 6: LXD 6.9's whole list (see
    /// [`LXD_6_9_EXTENSIONS`]).
    pub(crate) fn api_extensions(self) -> Vec<String> {
        if self == ServerFlavor::Lxd6 {
            return LXD_6_9_EXTENSIONS.lines().map(str::to_string).collect();
        }
        let mut out = Vec::with_capacity(API_EXTENSIONS.len() + INCUS_EXTENSIONS.len());
        for name in API_EXTENSIONS {
            out.push(name.to_string());
            if self == ServerFlavor::Incus {
                out.extend(
                    INCUS_EXTENSIONS
                        .iter()
                        .filter(|(after, _)| after == name)
                        .map(|(_, extension)| extension.to_string()),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incus_extensions_follow_their_anchor() {
        for (after, _) in INCUS_EXTENSIONS {
            assert!(API_EXTENSIONS.contains(after), "{after} is not listed");
        }
        let lxd = ServerFlavor::Lxd.api_extensions();
        let incus = ServerFlavor::Incus.api_extensions();
        assert!(!lxd.iter().any(|e| e == "auth_user"));
        assert_eq!(incus.len(), lxd.len() + INCUS_EXTENSIONS.len());
    }

    #[test]
    fn lxd6_lists_lxd_6_9_whole_list_in_order() {
        let lxd6 = ServerFlavor::Lxd6.api_extensions();
        assert_eq!(lxd6.len(), 477);
        assert_eq!(
            lxd6.first().map(String::as_str),
            Some("storage_zfs_remove_snapshots")
        );
        assert_eq!(
            lxd6.last().map(String::as_str),
            Some("clustering_evacuation_force")
        );
        assert!(lxd6.iter().all(|e| !e.is_empty() && !e.contains(' ')));
        let unique: std::collections::BTreeSet<_> = lxd6.iter().collect();
        assert_eq!(unique.len(), lxd6.len(), "a name is listed twice");
        // What the testkit implements for LXD 5.0 is all in LXD 6.9, in the same order.
        let positions: Vec<usize> = API_EXTENSIONS
            .iter()
            .map(|e| {
                lxd6.iter()
                    .position(|x| x == e)
                    .unwrap_or_else(|| panic!("{e}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "order differs");
        let ops = lxd6
            .iter()
            .position(|e| e == "storage_and_network_operations");
        assert!(ops.is_some());
    }

    #[test]
    fn file_headers_fall_back_to_lxd_on_incus_only() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-lxd-uid", http::HeaderValue::from_static("7"));
        assert_eq!(
            ServerFlavor::Incus.file_header(&headers, "uid").as_deref(),
            Some("7")
        );
        assert_eq!(
            ServerFlavor::Lxd.file_header(&headers, "uid").as_deref(),
            Some("7")
        );
        headers.insert("x-incus-uid", http::HeaderValue::from_static("8"));
        assert_eq!(
            ServerFlavor::Incus.file_header(&headers, "uid").as_deref(),
            Some("8")
        );
        headers.remove("x-lxd-uid");
        assert_eq!(ServerFlavor::Lxd.file_header(&headers, "uid"), None);
    }
}
