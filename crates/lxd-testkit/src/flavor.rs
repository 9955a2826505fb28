//! Which server the testkit presents itself as: LXD (the default) or Incus, LXD's community
//! fork. They share the REST core; this module is the one place that knows where a client
//! sees them differ in the endpoints the testkit implements (what was checked against a real
//! Incus 6.0.4 is noted on each item).

use crate::extensions::API_EXTENSIONS;

/// The server a [`TestServer`](crate::TestServer) presents itself as, chosen with
/// [`TestServerBuilder::flavor`](crate::TestServerBuilder::flavor). LXD is the default.
///
/// ```
/// use lxd_testkit::ServerFlavor;
///
/// assert_eq!(ServerFlavor::default(), ServerFlavor::Lxd);
/// assert_eq!(ServerFlavor::Incus.name(), "incus");
/// assert_eq!(ServerFlavor::Incus.header_prefix(), "X-Incus-");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerFlavor {
    /// Canonical's LXD 5.0 (`environment.server: "lxd"`, `X-LXD-*` headers).
    #[default]
    Lxd,
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
            ServerFlavor::Lxd => "lxd",
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
            ServerFlavor::Lxd => "X-LXD-",
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
    /// # Ok(()) }
    /// ```
    pub fn server_version(self) -> &'static str {
        match self {
            ServerFlavor::Lxd => "5.0.2",
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
            ServerFlavor::Lxd => None,
        })
    }

    /// Whether `GET /1.0` tells a trusted client who it is (`auth_user_name`,
    /// `auth_user_method`: Incus's `auth_user` extension; LXD 5.0 does not).
    pub(crate) fn reports_auth_user(self) -> bool {
        self == ServerFlavor::Incus
    }

    /// Whether `HEAD` in the files API describes a file as its content would be sent
    /// (`Content-Type: application/octet-stream`, `Content-Length`: its size), as Incus
    /// 6.0.4 does; the LXD imitation answers `application/json` with no length.
    pub(crate) fn head_gives_file_size(self) -> bool {
        self == ServerFlavor::Incus
    }

    /// The mode of a directory pushed without a mode header: LXD 5.0 uses 0750, Incus
    /// 0755 (both say it is because SFTP knows no umask; verified on Incus 6.0.4).
    pub(crate) fn default_dir_mode(self) -> u32 {
        match self {
            ServerFlavor::Lxd => 0o750,
            ServerFlavor::Incus => 0o755,
        }
    }

    /// What `X-Incus-Type` says on an image export (`incus`, or `oci` for an OCI image);
    /// LXD 5.0 sends no such header.
    pub(crate) fn export_type_header(self) -> Option<(String, &'static str)> {
        match self {
            ServerFlavor::Lxd => None,
            ServerFlavor::Incus => Some((self.header("Type"), "incus")),
        }
    }

    /// The API extensions `GET /1.0` lists: only those the testkit implements, in the
    /// imitated server's order (Incus keeps LXD's pre-fork names and order, then adds its
    /// own).
    pub(crate) fn api_extensions(self) -> Vec<String> {
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
