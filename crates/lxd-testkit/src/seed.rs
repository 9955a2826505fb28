//! What a server holds from the start: the defaults every LXD has after `lxd init` (the
//! `default` project, profile and storage pool), the `busybox` image, and what a test asks
//! for (images, profiles, networks, pools, projects, cluster members, certificates, warnings).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::fs::Fs;
use crate::state::{
    AliasRec, CertRec, ImageRec, MemberRec, NetworkRec, PROJECT_FEATURES, PoolRec, ProfileRec,
    State, WarningRec,
};
use crate::util;

/// An image to seed: aliases, properties, architecture, type and the files its instances
/// start with.
///
/// ```
/// use lxd_testkit::ImageSeed;
///
/// let image = ImageSeed::new("alpine")
///     .alias("alpine/3.20")
///     .property("os", "alpine")
///     .property("release", "3.20")
///     .file("/etc/os-release", "ID=alpine\n");
/// # let _ = image;
/// ```
#[derive(Debug, Clone)]
pub struct ImageSeed {
    aliases: Vec<String>,
    properties: BTreeMap<String, String>,
    architecture: String,
    virtual_machine: bool,
    public: bool,
    files: Vec<(String, Bytes)>,
    data: Option<Bytes>,
}

impl ImageSeed {
    /// An image with alias `alias`, architecture `x86_64`, a container image, private, with
    /// a small Linux skeleton as its root file system.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let server = TestServer::builder().image(ImageSeed::new("alpine")).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let image = client.images().get_by_alias("alpine").await?;
    /// assert_eq!(image.architecture, "x86_64");
    /// assert_eq!(image.properties["os"], "alpine");
    /// # Ok(()) }
    /// ```
    pub fn new(alias: &str) -> ImageSeed {
        ImageSeed {
            aliases: vec![alias.to_string()],
            properties: BTreeMap::from([
                ("description".to_string(), format!("{alias} (lxd-testkit)")),
                ("os".to_string(), alias.to_string()),
            ]),
            architecture: "x86_64".into(),
            virtual_machine: false,
            public: false,
            files: Vec::new(),
            data: None,
        }
    }

    /// Adds another alias.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let alpine = ImageSeed::new("alpine").alias("alpine-3.20").alias("alpine-edge");
    /// let server = TestServer::builder().image(alpine).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert!(client.images().exists("alpine-3.20").await?);
    /// # Ok(()) }
    /// ```
    pub fn alias(mut self, alias: &str) -> ImageSeed {
        self.aliases.push(alias.to_string());
        self
    }

    /// Sets an image property (`os`, `release`, `description`, ...).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let ubuntu = ImageSeed::new("ubuntu").property("os", "Ubuntu").property("release", "noble");
    /// let server = TestServer::builder().image(ubuntu).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let image = client.images().get_by_alias("ubuntu").await?;
    /// assert_eq!(image.properties["release"], "noble");
    /// # Ok(()) }
    /// ```
    pub fn property(mut self, key: &str, value: &str) -> ImageSeed {
        self.properties.insert(key.to_string(), value.to_string());
        self
    }

    /// Sets the architecture.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let arm = ImageSeed::new("debian-arm64").architecture("aarch64");
    /// let server = TestServer::builder().image(arm).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.images().get_by_alias("debian-arm64").await?.architecture, "aarch64");
    /// # Ok(()) }
    /// ```
    pub fn architecture(mut self, architecture: &str) -> ImageSeed {
        self.architecture = architecture.to_string();
        self
    }

    /// Makes it a virtual-machine image.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_client::proto::InstanceType;
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let vm = ImageSeed::new("ubuntu-vm").virtual_machine();
    /// let server = TestServer::builder().image(vm).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let image = client.images().get_by_alias("ubuntu-vm").await?;
    /// assert_eq!(image.image_type, InstanceType::VirtualMachine);
    /// # Ok(()) }
    /// ```
    pub fn virtual_machine(mut self) -> ImageSeed {
        self.virtual_machine = true;
        self
    }

    /// Makes it public (visible to untrusted clients).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let server = TestServer::builder().image(ImageSeed::new("shared").public()).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert!(client.images().get_by_alias("shared").await?.public);
    /// assert!(!client.images().get_by_alias("busybox").await?.public);
    /// # Ok(()) }
    /// ```
    pub fn public(mut self) -> ImageSeed {
        self.public = true;
        self
    }

    /// Puts a file into the root file system instances start with.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let alpine = ImageSeed::new("alpine").file("/etc/os-release", "ID=alpine\n");
    /// let server = TestServer::builder().image(alpine).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let c1 = InstancesPost { name: "c1".into(), source: InstanceSource::image_alias("alpine"), ..Default::default() };
    /// client.instances().create_and_wait(&c1).await?;
    /// let release = client.instances().files("c1").get_bytes("/etc/os-release").await?;
    /// assert_eq!(release, b"ID=alpine\n");
    /// # Ok(()) }
    /// ```
    pub fn file(mut self, path: &str, contents: impl Into<Bytes>) -> ImageSeed {
        self.files.push((path.to_string(), contents.into()));
        self
    }

    /// The image file's bytes (what export returns; its SHA-256 is the fingerprint).
    /// Default: an uncompressed unified image (`metadata.yaml` and `rootfs/`) built from the
    /// seed, which a real LXD imports too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let tarball = b"pretend this is a unified image tarball".to_vec();
    /// let image = ImageSeed::new("custom").data(tarball.clone());
    /// let server = TestServer::builder().image(image).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.images().get_by_alias("custom").await?.size, tarball.len() as i64);
    /// # Ok(()) }
    /// ```
    pub fn data(mut self, data: impl Into<Bytes>) -> ImageSeed {
        self.data = Some(data.into());
        self
    }
}

/// A profile to seed.
///
/// ```
/// use lxd_testkit::ProfileSeed;
///
/// let profile = ProfileSeed::new("web")
///     .description("web servers")
///     .config("limits.cpu", "2")
///     .device("eth0", &[("type", "nic"), ("network", "br0"), ("name", "eth0")]);
/// # let _ = profile;
/// ```
#[derive(Debug, Clone)]
pub struct ProfileSeed {
    rec: ProfileRec,
}

impl ProfileSeed {
    /// A profile named `name` in the default project.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ProfileSeed, TestServer};
    /// let server = TestServer::builder().profile_seed(ProfileSeed::new("web")).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.profiles().list_names().await?, ["default", "web"]);
    /// # Ok(()) }
    /// ```
    pub fn new(name: &str) -> ProfileSeed {
        ProfileSeed {
            rec: ProfileRec {
                name: name.to_string(),
                project: "default".into(),
                ..Default::default()
            },
        }
    }

    /// Puts it in `project`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ProfileSeed, TestServer};
    /// let server = TestServer::builder()
    ///     .project("staging") // the project first, then what goes in it
    ///     .profile_seed(ProfileSeed::new("web").project("staging"))
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert!(client.with_project("staging")?.profiles().exists("web").await?);
    /// assert!(!client.profiles().exists("web").await?);
    /// # Ok(()) }
    /// ```
    pub fn project(mut self, project: &str) -> ProfileSeed {
        self.rec.project = project.to_string();
        self
    }

    /// Sets the description.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ProfileSeed, TestServer};
    /// let web = ProfileSeed::new("web").description("front-end servers");
    /// let server = TestServer::builder().profile_seed(web).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.profiles().get("web").await?.description, "front-end servers");
    /// # Ok(()) }
    /// ```
    pub fn description(mut self, description: &str) -> ProfileSeed {
        self.rec.description = description.to_string();
        self
    }

    /// Sets a config key.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ProfileSeed, TestServer};
    /// let small = ProfileSeed::new("small").config("limits.cpu", "1").config("limits.memory", "512MiB");
    /// let server = TestServer::builder().profile_seed(small).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.profiles().get("small").await?.config["limits.memory"], "512MiB");
    /// # Ok(()) }
    /// ```
    pub fn config(mut self, key: &str, value: &str) -> ProfileSeed {
        self.rec.config.insert(key.to_string(), value.to_string());
        self
    }

    /// Sets config keys.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ProfileSeed, TestServer};
    /// let hardened = ProfileSeed::new("hardened")
    ///     .configs(&[("security.nesting", "false"), ("security.privileged", "false")]);
    /// let server = TestServer::builder().profile_seed(hardened).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.profiles().get("hardened").await?.config.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn configs(mut self, config: &[(&str, &str)]) -> ProfileSeed {
        for (k, v) in config {
            self.rec.config.insert(k.to_string(), v.to_string());
        }
        self
    }

    /// Adds a device.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ProfileSeed, TestServer};
    /// let data = ProfileSeed::new("data")
    ///     .device("data", &[("type", "disk"), ("source", "/srv/data"), ("path", "/data")]);
    /// let server = TestServer::builder().profile_seed(data).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let profile = client.profiles().get("data").await?;
    /// assert_eq!(profile.devices["data"]["path"], "/data");
    /// # Ok(()) }
    /// ```
    pub fn device(mut self, name: &str, settings: &[(&str, &str)]) -> ProfileSeed {
        self.rec.devices.insert(
            name.to_string(),
            settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        self
    }
}

/// One seeding step.
#[derive(Debug, Clone)]
pub(crate) enum Seed {
    Image(ImageSeed),
    Profile(ProfileSeed),
    Network {
        name: String,
        config: Vec<(String, String)>,
    },
    Pool {
        name: String,
        driver: String,
    },
    Project {
        name: String,
        config: Vec<(String, String)>,
    },
    Member(String),
    Certificate {
        name: String,
        pem: String,
    },
    Warning {
        kind: String,
        message: String,
    },
}

/// What every fresh server has: the `default` storage pool, a root disk in the default
/// profile, an unmanaged host interface, and (unless left out) the `busybox` image.
pub(crate) fn apply_defaults(state: &mut State, busybox: bool) {
    add_pool(state, "default", "dir");
    if let Some(profile) = state
        .profiles
        .iter_mut()
        .find(|p| p.project == "default" && p.name == "default")
    {
        profile.devices.insert(
            "root".into(),
            BTreeMap::from([
                ("path".to_string(), "/".to_string()),
                ("pool".to_string(), "default".to_string()),
                ("type".to_string(), "disk".to_string()),
            ]),
        );
    }
    state.networks.push(NetworkRec {
        name: "lo".into(),
        project: "default".into(),
        kind: "loopback".into(),
        managed: false,
        ..Default::default()
    });
    state.networks.push(NetworkRec {
        name: "eth0".into(),
        project: "default".into(),
        kind: "physical".into(),
        managed: false,
        ..Default::default()
    });
    if busybox {
        let image = ImageSeed::new("busybox")
            .property("description", "busybox (lxd-testkit)")
            .property("os", "busybox")
            .property("release", "static");
        add_image(state, &image, Fs::busybox());
    }
}

fn add_pool(state: &mut State, name: &str, driver: &str) {
    state.pools.push(PoolRec {
        name: name.to_string(),
        driver: driver.to_string(),
        description: String::new(),
        config: BTreeMap::from([(
            "source".to_string(),
            format!("{}/storage-pools/{name}", state.dir),
        )]),
    });
}

/// When seeded images say they were made (fixed, so the same seed always has the same
/// fingerprint): 2023-11-14T22:13:20Z.
const SEED_DATE: u64 = 1_700_000_000;

fn add_image(state: &mut State, seed: &ImageSeed, mut rootfs: Fs) -> String {
    for (path, contents) in &seed.files {
        let _ = rootfs.write(path, contents.clone(), false, None);
    }
    // A real unified image (uncompressed tarball: metadata.yaml and rootfs/), so an export
    // imports into a real LXD; or the bytes the test gave.
    let data = seed.data.clone().unwrap_or_else(|| {
        crate::tar::write_image(
            &crate::tar::ImageMetadata {
                architecture: seed.architecture.clone(),
                creation_date: SEED_DATE,
                properties: seed.properties.clone(),
            },
            &rootfs,
            SEED_DATE,
        )
    });
    let fingerprint = util::sha256_hex(&data);
    let created = util::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(SEED_DATE));
    let now = util::now();
    let kind = if seed.virtual_machine {
        "virtual-machine"
    } else {
        "container"
    };
    let properties = seed.properties.clone();
    state
        .images
        .retain(|i| !(i.project == "default" && i.fingerprint == fingerprint));
    state.images.push(ImageRec {
        fingerprint: fingerprint.clone(),
        project: "default".into(),
        filename: format!(
            "{}.tar.xz",
            seed.aliases.first().cloned().unwrap_or_default()
        ),
        size: data.len() as i64,
        architecture: seed.architecture.clone(),
        kind: kind.into(),
        public: seed.public,
        auto_update: false,
        cached: false,
        properties,
        profiles: vec!["default".into()],
        created_at: created,
        uploaded_at: now,
        expires_at: util::GO_ZERO_TIME.into(),
        last_used_at: util::GO_ZERO_TIME.into(),
        data,
        rootfs_data: None,
        rootfs,
    });
    for alias in &seed.aliases {
        state
            .aliases
            .retain(|a| !(a.project == "default" && &a.name == alias));
        state.aliases.push(AliasRec {
            name: alias.clone(),
            project: "default".into(),
            description: String::new(),
            target: fingerprint.clone(),
            kind: kind.into(),
        });
    }
    fingerprint
}

/// Applies one seed; `Err` says what is wrong with it.
pub(crate) fn apply(state: &mut State, seed: &Seed) -> Result<(), String> {
    match seed {
        Seed::Image(image) => {
            add_image(state, image, Fs::skeleton());
        }
        Seed::Profile(profile) => {
            let rec = profile.rec.clone();
            if !state.has_project(&rec.project) {
                return Err(format!("profile {}: no project {}", rec.name, rec.project));
            }
            state
                .profiles
                .retain(|p| !(p.project == rec.project && p.name == rec.name));
            state.profiles.push(rec);
        }
        Seed::Network { name, config } => {
            state.networks.retain(|n| &n.name != name);
            state.networks.push(NetworkRec {
                name: name.clone(),
                project: "default".into(),
                description: String::new(),
                kind: "bridge".into(),
                managed: true,
                config: config.iter().cloned().collect(),
            });
        }
        Seed::Pool { name, driver } => {
            if state.pool(name).is_none() {
                add_pool(state, name, driver);
            }
        }
        Seed::Project { name, config } => {
            crate::util::validate_entity_name("Project", name)?;
            let mut project_config: BTreeMap<String, String> = PROJECT_FEATURES
                .iter()
                .filter(|(_, default)| *default)
                .map(|(k, _)| (k.to_string(), "true".to_string()))
                .collect();
            project_config.extend(config.iter().cloned());
            let with_profiles = project_config
                .get("features.profiles")
                .is_some_and(|v| util::is_true(v));
            state.projects.insert(
                name.clone(),
                lxd_proto::Project {
                    name: name.clone(),
                    config: project_config,
                    ..Default::default()
                },
            );
            if with_profiles {
                state.profiles.push(ProfileRec {
                    name: "default".into(),
                    project: name.clone(),
                    description: format!("Default LXD profile for project {name}"),
                    ..Default::default()
                });
            }
        }
        Seed::Member(name) => {
            if !state.clustered {
                state.clustered = true;
                let url = state
                    .addresses
                    .first()
                    .map(|a| format!("https://{a}"))
                    .unwrap_or_else(|| "https://127.0.0.1:8443".into());
                let first = member(&state.server_name, &url, &["database"]);
                state.members.push(first);
            }
            if !state.members.iter().any(|m| &m.name == name) {
                let n = state.members.len() + 1;
                state
                    .members
                    .push(member(name, &format!("https://127.0.0.{n}:8443"), &[]));
            }
        }
        Seed::Certificate { name, pem } => {
            let der = crate::tls::der_from_pem(pem)
                .ok_or_else(|| format!("certificate {name}: not a PEM certificate"))?;
            let parsed = crate::tls::parse_certificate(&der)?;
            state
                .certificates
                .retain(|c| c.fingerprint != parsed.fingerprint);
            state.certificates.push(CertRec {
                fingerprint: parsed.fingerprint,
                name: name.clone(),
                kind: "client".into(),
                restricted: false,
                projects: Vec::new(),
                pem: parsed.pem,
            });
        }
        Seed::Warning { kind, message } => {
            let now = util::now();
            let location = state.location();
            state.warnings.push(WarningRec {
                uuid: util::uuid(),
                project: "default".into(),
                kind: kind.clone(),
                count: 1,
                first_seen_at: now.clone(),
                last_seen_at: now,
                last_message: message.clone(),
                severity: "low".into(),
                status: "new".into(),
                entity_url: String::new(),
                location,
            });
        }
    }
    Ok(())
}

fn member(name: &str, url: &str, roles: &[&str]) -> MemberRec {
    MemberRec {
        name: name.to_string(),
        url: url.to_string(),
        description: String::new(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        failure_domain: "default".into(),
        config: BTreeMap::new(),
        groups: vec!["default".into()],
        status: "Online".into(),
        message: "Fully operational".into(),
        architecture: "x86_64".into(),
    }
}
