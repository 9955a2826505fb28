//! Which server is on the other end. LXD and its fork Incus share the REST core; every place
//! where they differ asks the flavor instead of hard-coding LXD's spelling.

use lxd_proto::Server;

/// The kind of server, from `environment.server` of `GET /1.0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// Canonical's LXD (and servers that do not say).
    Lxd,
    /// Incus, the community fork.
    Incus,
}

impl Flavor {
    /// Detects the flavor from the server information.
    ///
    /// ```
    /// let server: lxd_proto::Server = serde_json::from_str(
    ///     r#"{"environment": {"server": "incus"}}"#).unwrap();
    /// assert_eq!(lxd_client::Flavor::of(&server), lxd_client::Flavor::Incus);
    /// ```
    pub fn of(server: &Server) -> Flavor {
        match server.environment.server.as_str() {
            "incus" => Flavor::Incus,
            _ => Flavor::Lxd,
        }
    }

    /// The server's name as it reports it.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Lxd => "lxd",
            Flavor::Incus => "incus",
        }
    }

    /// The prefix of the file and image headers (`X-LXD-uid`, `X-Incus-uid`, ...).
    pub fn header_prefix(self) -> &'static str {
        match self {
            Flavor::Lxd => "X-LXD-",
            Flavor::Incus => "X-Incus-",
        }
    }
}
