//! Which server is on the other end. LXD and its fork Incus share the REST core and differ in
//! spellings: header prefixes, image protocol names, API extension names. The flavor holds
//! those names; behaviour is chosen by API extension or by what the server answers, never
//! by the flavor itself.

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

    #[deprecated(
        since = "0.1.0",
        note = "the server's name does not tell where exec output is (LXD 5.15 moved it); \
                InstanceLogs follows what the server answers"
    )]
    /// Where recorded exec output lived below `/1.0/instances/<name>/` on the servers first
    /// tested: among the logs on LXD 5.0 (`logs`), apart on Incus (`logs/exec-output`).
    /// LXD moved it to `logs/exec-output` too (5.15), so the server's name does not tell:
    /// [`InstanceLogs`](crate::InstanceLogs) and
    /// [`RecordedExec`](crate::RecordedExec) follow what the server answers instead.
    ///
    /// ```
    /// # #![allow(deprecated)]
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

    /// The API extension with which a server of this kind takes a cluster join token in
    /// `cluster_token` of `PUT /1.0/cluster`: LXD added the field with
    /// `explicit_trust_token` (LXD 5.0 takes the token's secret in `cluster_password`);
    /// Incus replaced the password with the token under `clustering_join`.
    ///
    /// ```
    /// use lxd_client::Flavor;
    /// assert_eq!(Flavor::Lxd.cluster_token_extension(), "explicit_trust_token");
    /// assert_eq!(Flavor::Incus.cluster_token_extension(), "clustering_join");
    /// ```
    pub fn cluster_token_extension(self) -> &'static str {
        match self {
            Flavor::Lxd => "explicit_trust_token",
            Flavor::Incus => "clustering_join",
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
