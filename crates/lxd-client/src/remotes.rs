//! Remotes of the `lxc` command line client: build a [`Client`] from the configuration `lxc`
//! already has (`lxc remote add ...`), by remote name.
//!
//! The configuration directory is `LXD_CONF` if set, else `~/.config/lxc`, else the snap's
//! `~/snap/lxd/common/config`. In it `lxc` keeps:
//!
//! - `config.yml`: `default-remote` and the `remotes` map (`addr`, `protocol`, `public`,
//!   `auth_type`, `project`);
//! - `client.crt` / `client.key`: the client certificate it presents over HTTPS;
//! - `servercerts/<remote>.crt`: the server certificate accepted at `lxc remote add`, pinned
//!   here exactly as `lxc` pins it (a remote without one is checked against `client.ca` when
//!   that exists, else the system's roots).
//!
//! `local` (address `unix://`) is the local unix socket, found like [`Client::local`].
//! Image servers (`protocol: simplestreams`) are not LXD API servers and are refused.
//!
//! ```no_run
//! use lxd_client::LxcConfig;
//! # async fn demo() -> Result<(), lxd_client::Error> {
//! let config = LxcConfig::load()?;
//! for remote in config.remotes() {
//!     println!("{} {} ({})", remote.name(), remote.addr(), remote.protocol());
//! }
//! let client = config.client(config.default_remote())?;
//! println!("{}", client.server().await?.environment.server_version);
//! # Ok(()) }
//! ```

mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Client, ClientBuilder, Error, Result};
use yaml::Node;

const WHAT: &str = "lxc configuration";

/// One remote of the `lxc` configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LxcRemote {
    name: String,
    addr: String,
    protocol: String,
    public: bool,
    auth_type: Option<String>,
    project: Option<String>,
    builtin: bool,
}

impl LxcRemote {
    /// The remote's name (`local`, `images`, what `lxc remote add` was given).
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// let default = config.remotes().find(|r| r.name() == config.default_remote()).unwrap();
    /// assert_eq!(default.name(), "prod");
    /// assert_eq!(default.addr(), "https://10.0.0.5:8443");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address: `unix://` (or `unix:///path`) or an `https://` URL.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// assert_eq!(config.remote("prod").unwrap().addr(), "https://10.0.0.5:8443");
    /// assert_eq!(config.remote("local").unwrap().addr(), "unix://"); // the discovered socket
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `lxd` (an LXD API server; the default when the file says nothing) or `simplestreams`
    /// (an image server).
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// // Only `lxd` remotes are API servers a `Client` can talk to:
    /// let servers: Vec<&str> = config.remotes().filter(|r| r.protocol() == "lxd").map(|r| r.name()).collect();
    /// assert_eq!(servers, ["local", "prod"]);
    /// assert_eq!(config.remote("images").unwrap().protocol(), "simplestreams");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// Whether `lxc` treats it as a public image server (no client certificate trusted).
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// assert!(config.remote("images").unwrap().is_public());
    /// assert!(!config.remote("prod").unwrap().is_public());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn is_public(&self) -> bool {
        self.public
    }

    /// `tls`, `candid`, ... when the file names one.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// assert_eq!(config.remote("prod").unwrap().auth_type(), Some("tls"));
    /// assert_eq!(config.remote("images").unwrap().auth_type(), None);
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn auth_type(&self) -> Option<&str> {
        self.auth_type.as_deref()
    }

    /// The project requests go to, when the remote names one.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// // `lxc remote add prod ... --project web`: clients for `prod` are scoped to `web`.
    /// assert_eq!(config.remote("prod").unwrap().project(), Some("web"));
    /// assert_eq!(config.remote("local").unwrap().project(), None);
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// Whether this is a remote `lxc` has built in rather than one read from `config.yml`
    /// (`local` when the file does not list it).
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// // This file does not list `local`; `lxc` knows it anyway.
    /// assert!(config.remote("local").unwrap().is_builtin());
    /// assert!(!config.remote("prod").unwrap().is_builtin());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    /// Whether the address is the local unix socket.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// let local = config.remote("local").unwrap();
    /// assert!(local.is_unix());
    /// assert!(!config.remote("prod").unwrap().is_unix());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn is_unix(&self) -> bool {
        self.addr.starts_with("unix:")
    }
}

impl fmt::Display for LxcRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.addr)
    }
}

/// The `lxc` client's configuration directory, read: its remotes, default remote and where
/// its certificates are.
#[derive(Clone, Debug)]
pub struct LxcConfig {
    dir: PathBuf,
    default_remote: String,
    remotes: Vec<LxcRemote>,
}

impl LxcConfig {
    /// Reads the configuration `lxc` itself would use: `LXD_CONF`, else `~/.config/lxc`,
    /// else the snap's `~/snap/lxd/common/config` (see [`LxcConfig::default_dir`]).
    ///
    /// ```no_run
    /// let config = lxd_client::LxcConfig::load()?;
    /// println!("default remote: {}", config.default_remote());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn load() -> Result<LxcConfig> {
        LxcConfig::from_dir(LxcConfig::default_dir()?)
    }

    /// The directory [`LxcConfig::load`] reads: `LXD_CONF` if set; else `~/.config/lxc` when
    /// it has a `config.yml` or the snap's directory has none; else
    /// `~/snap/lxd/common/config`.
    ///
    /// ```no_run
    /// let dir = lxd_client::LxcConfig::default_dir()?; // e.g. /home/me/snap/lxd/common/config
    /// println!("lxc keeps its remotes in {}", dir.join("config.yml").display());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn default_dir() -> Result<PathBuf> {
        if let Some(dir) = std::env::var_os("LXD_CONF").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        let home = std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid(WHAT, "neither LXD_CONF nor HOME is set"))?;
        let home = PathBuf::from(home);
        let plain = home.join(".config/lxc");
        let snap = home.join("snap/lxd/common/config");
        if !plain.join("config.yml").exists() && snap.join("config.yml").exists() {
            Ok(snap)
        } else {
            Ok(plain)
        }
    }

    /// Reads the configuration in `dir`. A directory without `config.yml` reads like `lxc`
    /// reads it: only the built-in `local` remote, which is also the default.
    ///
    /// ```no_run
    /// let config = lxd_client::LxcConfig::from_dir("/home/me/.config/lxc")?;
    /// assert!(config.remote("local").is_some());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<LxcConfig> {
        let dir = dir.as_ref().to_path_buf();
        let file = dir.join("config.yml");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::invalid(WHAT, format!("{}: {e}", file.display()))),
        };
        LxcConfig::parse(dir, &text)
    }

    /// Reads `config.yml`'s text as if it were in `dir` (where the certificates are looked
    /// for later).
    ///
    /// ```
    /// let config = lxd_client::LxcConfig::parse(
    ///     "/nowhere",
    ///     "default-remote: s1\nremotes:\n  s1:\n    addr: https://10.0.0.5:8443\n    protocol: lxd\n    public: false\n",
    /// )?;
    /// assert_eq!(config.remote("s1").unwrap().addr(), "https://10.0.0.5:8443");
    /// assert_eq!(config.default_remote(), "s1");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn parse(dir: impl Into<PathBuf>, text: &str) -> Result<LxcConfig> {
        let dir = dir.into();
        let file = dir.join("config.yml");
        let bad = |reason: String| Error::invalid(WHAT, format!("{}: {reason}", file.display()));
        let doc = yaml::parse(text).map_err(&bad)?;
        let default_remote = match doc.get("default-remote") {
            None => "local".to_string(),
            Some(node) => match node.as_str() {
                None => "local".to_string(),
                Some(name) => name.to_string(),
            },
        };
        let mut remotes = Vec::new();
        match doc.get("remotes") {
            None => {}
            Some(node) if node.is_null() => {}
            Some(Node::Map(entries)) => {
                for (name, node) in entries {
                    remotes.push(read_remote(name, node).map_err(&bad)?);
                }
            }
            Some(_) => return Err(bad("`remotes` is not a mapping".into())),
        }
        // `lxc` always knows `local`, listed or not.
        if !remotes.iter().any(|r| r.name == "local") {
            remotes.push(LxcRemote {
                name: "local".into(),
                addr: "unix://".into(),
                protocol: "lxd".into(),
                public: false,
                auth_type: None,
                project: None,
                builtin: true,
            });
        }
        remotes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(LxcConfig {
            dir,
            default_remote,
            remotes,
        })
    }

    /// The configuration directory.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// assert_eq!(config.dir(), std::path::Path::new("/home/me/.config/lxc"));
    /// println!("remotes read from {}", config.dir().join("config.yml").display());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The default remote's name (`default-remote`, `local` when unset).
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// assert_eq!(config.default_remote(), "prod"); // after `lxc remote switch prod`
    /// // A file without `default-remote` means `local`, as for `lxc`.
    /// assert_eq!(lxd_client::LxcConfig::parse("/tmp", "")?.default_remote(), "local");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn default_remote(&self) -> &str {
        &self.default_remote
    }

    /// Every remote, by name.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// let names: Vec<&str> = config.remotes().map(|r| r.name()).collect();
    /// assert_eq!(names, ["images", "local", "prod"]); // by name; `local` always there
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn remotes(&self) -> impl Iterator<Item = &LxcRemote> {
        self.remotes.iter()
    }

    /// The remote called `name`.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// match config.remote("staging") {
    ///     Some(remote) => println!("staging is {}", remote.addr()),
    ///     None => println!("run `lxc remote add staging <address>` first"),
    /// }
    /// assert!(config.remote("staging").is_none() && config.remote("prod").is_some());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn remote(&self, name: &str) -> Option<&LxcRemote> {
        self.remotes.iter().find(|r| r.name == name)
    }

    /// The server certificate pinned for a remote: `servercerts/<name>.crt`.
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// let pinned = config.server_certificate_path("prod");
    /// assert_eq!(pinned, std::path::Path::new("/home/me/.config/lxc/servercerts/prod.crt"));
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn server_certificate_path(&self, name: &str) -> PathBuf {
        self.dir.join("servercerts").join(format!("{name}.crt"))
    }

    /// The client certificate `lxc` presents: `client.crt` (its key is `client.key`).
    ///
    /// ```
    /// # let config = lxd_client::LxcConfig::parse("/home/me/.config/lxc", "\
    /// # default-remote: prod
    /// # remotes:
    /// #   images:
    /// #     addr: https://images.lxd.canonical.com
    /// #     protocol: simplestreams
    /// #     public: true
    /// #   prod:
    /// #     addr: https://10.0.0.5:8443
    /// #     auth_type: tls
    /// #     project: web
    /// #     protocol: lxd
    /// #     public: false
    /// # ")?;
    /// let cert = config.client_certificate_path(); // its key: client.key beside it
    /// assert_eq!(cert, std::path::Path::new("/home/me/.config/lxc/client.crt"));
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn client_certificate_path(&self) -> PathBuf {
        self.dir.join("client.crt")
    }

    /// A [`ClientBuilder`] for the remote `name`, to add timeouts or a user agent before
    /// building; [`LxcConfig::client`] builds it directly.
    ///
    /// - `unix://` is the discovered local socket (`LXD_SOCKET`, `LXD_DIR`, ...);
    ///   `unix:///path` that socket;
    /// - `https://` presents `client.crt`/`client.key` when they exist and pins
    ///   `servercerts/<name>.crt` when it exists (else `client.ca`, else the system roots);
    /// - the remote's `project` becomes the client's project.
    ///
    /// Errors name the remote and the file: an unknown remote, a `simplestreams` image
    /// server, an authentication type other than `tls`, unreadable certificates.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::LxcConfig::load()?
    ///     .client_builder("prod")?
    ///     .timeout(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn client_builder(&self, name: &str) -> Result<ClientBuilder> {
        let remote = self.remote(name).ok_or_else(|| {
            let known: Vec<&str> = self.remotes.iter().map(|r| r.name.as_str()).collect();
            Error::invalid(
                WHAT,
                format!(
                    "no remote {name:?} in {} (remotes: {})",
                    self.dir.join("config.yml").display(),
                    known.join(", ")
                ),
            )
        })?;
        let bad = |reason: String| Error::invalid(WHAT, format!("remote {name:?}: {reason}"));
        if remote.protocol != "lxd" {
            return Err(bad(format!(
                "protocol {:?} is an image server, not an LXD API server",
                remote.protocol
            )));
        }
        let mut builder = if let Some(rest) = remote.addr.strip_prefix("unix://") {
            if rest.is_empty() {
                ClientBuilder::local()
            } else {
                ClientBuilder::unix(rest)
            }
        } else if remote.addr.starts_with("https://") {
            if let Some(auth) = remote.auth_type.as_deref()
                && auth != "tls"
            {
                return Err(bad(format!(
                    "authentication type {auth:?} is not supported (only tls)"
                )));
            }
            if name.contains('/') || name.starts_with('.') {
                return Err(bad(
                    "a remote name cannot contain `/` or start with `.`".into()
                ));
            }
            let read = |path: &Path| {
                std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))
            };
            let mut b = ClientBuilder::https(remote.addr.clone());
            let cert = self.client_certificate_path();
            let key = self.dir.join("client.key");
            if cert.exists() || key.exists() {
                let (c, k) = (read(&cert)?, read(&key)?);
                b = b.client_identity(
                    lxd_transport::ClientIdentity::from_pem(&c, &k)
                        .map_err(|e| bad(format!("{}: {e}", cert.display())))?,
                );
            }
            let server = self.server_certificate_path(name);
            let ca = self.dir.join("client.ca");
            if server.exists() {
                b = b.server_trust(
                    lxd_transport::ServerTrust::pinned_pem(&read(&server)?)
                        .map_err(|e| bad(format!("{}: {e}", server.display())))?,
                );
            } else if ca.exists() {
                b = b.server_trust(lxd_transport::ServerTrust::CaCertificates(vec![read(&ca)?]));
            }
            b
        } else {
            return Err(bad(format!(
                "address {:?} is neither unix:// nor https://",
                remote.addr
            )));
        };
        if let Some(project) = remote.project.as_deref() {
            builder = builder.project(project);
        }
        Ok(builder)
    }

    /// A client for the remote `name` (see [`LxcConfig::client_builder`] for the rules).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::LxcConfig::load()?.client("local")?;
    /// println!("{} instances", client.instances().list().await?.len());
    /// # Ok(()) }
    /// ```
    pub fn client(&self, name: &str) -> Result<Client> {
        self.client_builder(name)?.build()
    }
}

impl Client {
    /// A client for a remote of the `lxc` command's configuration, by name (`local`, or what
    /// `lxc remote add` was given); `LxcConfig::load()?.client(name)`. See [`LxcConfig`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::Client::from_lxc_remote("prod")?;
    /// println!("trusted: {}", client.trusted().await?);
    /// # Ok(()) }
    /// ```
    pub fn from_lxc_remote(name: &str) -> Result<Client> {
        LxcConfig::load()?.client(name)
    }
}

fn read_remote(name: &str, node: &Node) -> std::result::Result<LxcRemote, String> {
    let Node::Map(_) = node else {
        return Err(format!("remote {name:?} is not a mapping"));
    };
    let text = |key: &str| -> std::result::Result<Option<String>, String> {
        match node.get(key) {
            None => Ok(None),
            Some(Node::Map(_)) => Err(format!("remote {name:?}: `{key}` is not a scalar")),
            Some(v) => Ok(v.as_str().filter(|s| !s.is_empty()).map(str::to_string)),
        }
    };
    let addr = text("addr")?.ok_or_else(|| format!("remote {name:?} has no `addr`"))?;
    let public = match node.get("public") {
        None => false,
        Some(v) if v.is_null() => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| format!("remote {name:?}: `public` is not true or false"))?,
    };
    Ok(LxcRemote {
        name: name.to_string(),
        addr,
        protocol: text("protocol")?.unwrap_or_else(|| "lxd".into()),
        public,
        auth_type: text("auth_type")?,
        project: text("project")?,
        builtin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by the real `lxc` 5.0.2 (`lxc remote add` with a join token, `--public`,
    /// `--protocol simplestreams`, `lxc remote switch`, `lxc alias add`).
    const REAL: &str = include_str!("../tests/fixtures/lxc/config.yml");

    #[test]
    fn reads_a_config_written_by_lxc() {
        let config = LxcConfig::parse("/conf", REAL).unwrap();
        assert_eq!(config.default_remote(), "it");
        let names: Vec<&str> = config.remotes().map(LxcRemote::name).collect();
        assert_eq!(names, ["images", "it", "local", "proj", "pub", "ss"]);
        let it = config.remote("it").unwrap();
        assert_eq!(it.addr(), "https://127.0.0.1:46251");
        assert_eq!(it.protocol(), "lxd");
        assert_eq!(it.auth_type(), Some("tls"));
        assert!(!it.is_public() && !it.is_unix() && !it.is_builtin());
        let public = config.remote("pub").unwrap();
        assert!(public.is_public());
        assert_eq!(public.protocol(), "lxd", "no protocol means lxd");
        let local = config.remote("local").unwrap();
        assert!(local.is_unix() && !local.is_builtin());
        assert_eq!(config.remote("ss").unwrap().protocol(), "simplestreams");
        assert_eq!(
            config.server_certificate_path("it"),
            Path::new("/conf/servercerts/it.crt")
        );
    }

    #[test]
    fn project_and_unix_paths() {
        let config = LxcConfig::parse(
            "/conf",
            "remotes:\n  p:\n    addr: unix:///run/lxd.socket\n    project: \"dev\"\n",
        )
        .unwrap();
        assert_eq!(config.default_remote(), "local");
        let p = config.remote("p").unwrap();
        assert_eq!(p.project(), Some("dev"));
        assert!(p.is_unix());
        assert!(config.remote("local").unwrap().is_builtin());
        // The socket does not exist: the error comes from the transport, at build.
        let err = config.client("p").unwrap_err();
        assert!(err.to_string().contains("/run/lxd.socket"), "{err}");
    }

    #[test]
    fn missing_file_is_lxc_defaults() {
        let dir = std::env::temp_dir().join(format!("lxd-rs-lxc-empty-{}", std::process::id()));
        let config = LxcConfig::from_dir(&dir).unwrap();
        assert_eq!(config.default_remote(), "local");
        assert_eq!(config.remotes().count(), 1);
    }

    #[test]
    fn clear_errors_name_the_remote_and_file() {
        let config = LxcConfig::parse("/conf", REAL).unwrap();
        let err = config.client("nope").unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("\"nope\"") && text.contains("/conf/config.yml") && text.contains("it"),
            "{text}"
        );
        let err = config.client("ss").unwrap_err().to_string();
        assert!(
            err.contains("\"ss\"") && err.contains("image server"),
            "{err}"
        );
        // HTTPS remote whose certificates are missing: client.crt is absent, so no identity,
        // and servercerts/it.crt is absent too: the file named in the error is not needed.
        // With a key but no certificate, the error names client.crt.
        let dir = std::env::temp_dir().join(format!("lxd-rs-lxc-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yml"), REAL).unwrap();
        std::fs::write(dir.join("client.key"), "junk").unwrap();
        let err = LxcConfig::from_dir(&dir)
            .unwrap()
            .client("it")
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.contains("\"it\"") && err.contains("client.crt"),
            "{err}"
        );

        for (text, needle) in [
            ("remotes:\n  x:\n    public: true\n", "no `addr`"),
            (
                "remotes:\n  x:\n    addr: https://h\n    public: maybe\n",
                "`public`",
            ),
            ("remotes: 3\n", "not a mapping"),
            ("remotes:\n  - x\n", "line 2"),
        ] {
            let err = LxcConfig::parse("/conf", text).unwrap_err().to_string();
            assert!(
                err.contains(needle) && err.contains("/conf/config.yml"),
                "{text:?}: {err}"
            );
        }
        let config = LxcConfig::parse(
            "/conf",
            "remotes:\n  c:\n    addr: https://h\n    auth_type: candid\n  f:\n    addr: ftp://h\n",
        )
        .unwrap();
        let err = config.client("c").unwrap_err().to_string();
        assert!(err.contains("candid"), "{err}");
        let err = config.client("f").unwrap_err().to_string();
        assert!(err.contains("ftp://h"), "{err}");
    }
}
