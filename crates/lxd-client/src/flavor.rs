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
    /// // What an untrusted client sees of Incus: no environment, Incus's extension names.
    /// let untrusted: lxd_proto::Server = serde_json::from_str(
    ///     r#"{"api_extensions": ["etag", "restrict_dev_incus"], "auth": "untrusted"}"#).unwrap();
    /// assert_eq!(lxd_client::Flavor::of(&untrusted), lxd_client::Flavor::Incus);
    /// ```
    pub fn of(server: &Server) -> Flavor {
        match server.environment.server.as_str() {
            "incus" => Flavor::Incus,
            "" if Self::incus_extensions(&server.api_extensions) => Flavor::Incus,
            _ => Flavor::Lxd,
        }
    }

    /// An untrusted client sees no `environment`, but does see the API extensions; Incus
    /// renamed LXD's `dev_lxd` ones (`restrict_dev_incus`, `dev_incus_events`, ...).
    fn incus_extensions(extensions: &[String]) -> bool {
        extensions.iter().any(|e| e.contains("dev_incus"))
    }

    /// The server's name as it reports it.
    ///
    /// ```
    /// use lxd_client::Flavor;
    /// // As `environment.server` of `GET /1.0` says it, for messages and logs:
    /// assert_eq!(Flavor::Lxd.name(), "lxd");
    /// assert_eq!(Flavor::Incus.name(), "incus");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Lxd => "lxd",
            Flavor::Incus => "incus",
        }
    }

    /// The `protocol` by which another server names this one as an image source (`lxd`,
    /// `incus`).
    ///
    /// ```
    /// use lxd_client::Flavor;
    /// // The `protocol` of an image source that is another server of this kind:
    /// assert_eq!(Flavor::Incus.image_protocol(), "incus");
    /// assert_eq!(Flavor::Lxd.image_protocol(), "lxd");
    /// ```
    pub fn image_protocol(self) -> &'static str {
        self.name()
    }

    /// Where recorded exec output lives below `/1.0/instances/<name>/`: among the logs on
    /// LXD (`logs`), apart on Incus (`logs/exec-output`).
    ///
    /// ```
    /// use lxd_client::Flavor;
    /// // Where `exec` with `record-output` leaves its files:
    /// let dir = Flavor::Incus.exec_output_dir();
    /// assert_eq!(format!("/1.0/instances/c1/{dir}"), "/1.0/instances/c1/logs/exec-output");
    /// assert_eq!(Flavor::Lxd.exec_output_dir(), "logs");
    /// ```
    pub fn exec_output_dir(self) -> &'static str {
        match self {
            Flavor::Lxd => "logs",
            Flavor::Incus => "logs/exec-output",
        }
    }

    /// The prefix of the file and image headers (`X-LXD-uid`, `X-Incus-uid`, ...).
    ///
    /// ```
    /// use lxd_client::Flavor;
    /// // The owner of a pushed file travels in `X-LXD-uid` (LXD) or `X-Incus-uid` (Incus).
    /// assert_eq!(format!("{}uid", Flavor::Lxd.header_prefix()), "X-LXD-uid");
    /// assert_eq!(format!("{}uid", Flavor::Incus.header_prefix()), "X-Incus-uid");
    /// ```
    pub fn header_prefix(self) -> &'static str {
        match self {
            Flavor::Lxd => "X-LXD-",
            Flavor::Incus => "X-Incus-",
        }
    }
}
