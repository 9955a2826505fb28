//! Images: `/1.0/images`.

use crate::InstanceType;
use crate::util::{is_false, nullable, redact_str};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// An image (`GET /1.0/images/<fingerprint>`).
///
/// ```
/// use lxd_proto::{Image, InstanceType};
///
/// let image: Image = serde_json::from_str(r#"{"fingerprint": "be41f891", "size": 1032413,
///     "architecture": "x86_64", "type": "container", "public": false,
///     "properties": {"os": "busybox"}, "aliases": [{"name": "web", "description": ""}]}"#)
///     .unwrap();
/// assert_eq!(image.image_type, InstanceType::Container);
/// assert_eq!(image.aliases[0].name, "web");
/// assert_eq!(image.properties["os"], "busybox");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Image {
    /// Whether LXD refreshes the image from its source.
    pub auto_update: bool,
    /// Descriptive properties (`os`, `release`, `description`, ...).
    #[serde(deserialize_with = "nullable")]
    pub properties: BTreeMap<String, String>,
    /// Whether unauthenticated clients may see and download it.
    pub public: bool,
    /// When the image becomes obsolete (RFC 3339).
    pub expires_at: String,
    /// Profiles applied to instances created from it when none are given.
    #[serde(deserialize_with = "nullable")]
    pub profiles: Vec<String>,
    /// Aliases pointing at it.
    #[serde(deserialize_with = "nullable")]
    pub aliases: Vec<ImageAlias>,
    /// Architecture.
    pub architecture: String,
    /// Whether it is a cached copy of a remote image.
    pub cached: bool,
    /// Original file name.
    pub filename: String,
    /// SHA-256 fingerprint (hex).
    pub fingerprint: String,
    /// Size in bytes.
    pub size: i64,
    /// Where the image came from (cached and auto-updating images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_source: Option<ImageSource>,
    /// Container or virtual-machine image.
    #[serde(rename = "type")]
    pub image_type: InstanceType,
    /// When the image was built (RFC 3339).
    pub created_at: String,
    /// When an instance was last created from it (RFC 3339).
    pub last_used_at: String,
    /// When it was added to this server (RFC 3339).
    pub uploaded_at: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Image {
    /// The writable part, for `PUT /1.0/images/<fingerprint>`. Unknown fields are carried
    /// over so a writable field added by a newer server is not reset.
    ///
    /// ```
    /// use lxd_proto::Image;
    ///
    /// let image: Image = serde_json::from_str(r#"{"fingerprint": "be41f891",
    ///     "public": false, "auto_update": true, "properties": {"os": "ubuntu"},
    ///     "profiles": ["default"], "size": 1032413}"#).unwrap();
    /// // Share the image with unauthenticated clients.
    /// let mut put = image.writable();
    /// put.public = true;
    /// assert!(put.auto_update);
    /// assert_eq!(put.properties["os"], "ubuntu");
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_put)
    pub fn writable(&self) -> ImagePut {
        ImagePut {
            auto_update: self.auto_update,
            properties: self.properties.clone(),
            public: self.public,
            expires_at: self.expires_at.clone(),
            profiles: self.profiles.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH /1.0/images/<fingerprint>`: the writable part of [`Image`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImagePut {
    /// Whether LXD refreshes the image from its source.
    pub auto_update: bool,
    /// Descriptive properties.
    #[serde(deserialize_with = "nullable")]
    pub properties: BTreeMap<String, String>,
    /// Whether unauthenticated clients may see and download it.
    pub public: bool,
    /// When the image becomes obsolete (RFC 3339; not sent when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expires_at: String,
    /// Profiles applied to instances created from it when none are given.
    #[serde(deserialize_with = "nullable")]
    pub profiles: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An alias in [`Image::aliases`] or [`ImagesPost::aliases`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageAlias {
    /// Alias name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageAlias {
    /// An alias with this name and no description.
    ///
    /// ```
    /// use lxd_proto::{ImageAlias, ImagesPost, ImagesPostSource};
    ///
    /// let request = ImagesPost {
    ///     source: Some(ImagesPostSource::instance("builder")),
    ///     aliases: vec![ImageAlias::new("app/v2"), ImageAlias::new("app/latest")],
    ///     ..Default::default()
    /// };
    /// assert_eq!(request.aliases[1].name, "app/latest");
    /// assert!(request.aliases[1].description.is_empty());
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Default::default()
        }
    }
}

/// `update_source` of an [`Image`]: the remote it was downloaded from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageSource {
    /// Alias on the remote.
    pub alias: String,
    /// The remote's certificate (PEM), if not trusted by the system.
    pub certificate: String,
    /// Protocol (`lxd`, `simplestreams`).
    pub protocol: String,
    /// Remote URL.
    pub server: String,
    /// Container or virtual-machine image.
    pub image_type: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/images` with a JSON body: make an image from an instance, a snapshot, another
/// image or a URL. Only what is set is sent.
///
/// Publishing an instance is this request with `source` of type `instance` (or `snapshot`):
///
/// ```
/// use lxd_proto::{ImageAlias, ImagesPost, ImagesPostSource};
///
/// let request = ImagesPost {
///     source: Some(ImagesPostSource::instance("web")),
///     aliases: vec![ImageAlias::new("web-golden")],
///     public: true,
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"public":true,"source":{"type":"instance","name":"web"},"aliases":[{"name":"web-golden","description":""}]}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImagesPost {
    /// Refresh the image from its source.
    #[serde(skip_serializing_if = "is_false")]
    pub auto_update: bool,
    /// Descriptive properties (merged over those the source provides).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub properties: BTreeMap<String, String>,
    /// Visible to unauthenticated clients.
    #[serde(skip_serializing_if = "is_false")]
    pub public: bool,
    /// When the image becomes obsolete (RFC 3339).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expires_at: String,
    /// Profiles for instances created from the image; `None` keeps LXD's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    /// Original file name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filename: String,
    /// Where the image comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ImagesPostSource>,
    /// Compression when turning an instance into an image (`gzip`, `xz`, `none`, ...; API
    /// extension `image_compression_algorithm`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression_algorithm: String,
    /// Aliases to create for the new image (API extension `image_create_aliases`).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<ImageAlias>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `source` of an [`ImagesPost`]. Only what is set is sent; `Debug` redacts `secret`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImagesPostSource {
    /// `instance`, `snapshot`, `image` or `url`.
    #[serde(rename = "type")]
    pub source_type: String,
    /// Instance name (type `instance`) or `instance/snapshot` (type `snapshot`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Source image fingerprint (type `image`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
    /// Source URL (type `url`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// `pull` or `push` (remote image copies).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// Alias on the remote (type `image`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// The remote's certificate (PEM).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub certificate: String,
    /// The remote's protocol (`lxd`, `simplestreams`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// The remote's URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server: String,
    /// Container or virtual-machine image, on the remote.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_type: String,
    /// Secret for a private remote image.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// Project of the source (API extension `image_source_project`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImagesPostSource {
    /// An instance (stopped, for containers) as the source.
    ///
    /// ```
    /// use lxd_proto::ImagesPostSource;
    ///
    /// // `lxc publish web`
    /// let source = ImagesPostSource::instance("web");
    /// assert_eq!(
    ///     serde_json::to_string(&source).unwrap(),
    ///     r#"{"type":"instance","name":"web"}"#,
    /// );
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn instance(name: impl Into<String>) -> Self {
        Self {
            source_type: "instance".into(),
            name: name.into(),
            ..Default::default()
        }
    }

    /// A snapshot (`instance/snapshot`) as the source.
    ///
    /// ```
    /// use lxd_proto::ImagesPostSource;
    ///
    /// // `lxc publish web/before-upgrade`: the instance may keep running.
    /// let source = ImagesPostSource::snapshot("web", "before-upgrade");
    /// assert_eq!(source.source_type, "snapshot");
    /// assert_eq!(source.name, "web/before-upgrade");
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn snapshot(instance: &str, snapshot: &str) -> Self {
        Self {
            source_type: "snapshot".into(),
            name: format!("{instance}/{snapshot}"),
            ..Default::default()
        }
    }
}

impl ImagesPostSource {
    /// An image downloaded from a URL: LXD sends `HEAD` to it and expects the headers
    /// `LXD-Image-Hash` (the fingerprint) and `LXD-Image-URL` (where to download it).
    ///
    /// ```
    /// let source = lxd_proto::ImagesPostSource::url("https://images.example/busybox");
    /// assert_eq!(
    ///     serde_json::to_string(&source).unwrap(),
    ///     r#"{"type":"url","url":"https://images.example/busybox"}"#,
    /// );
    /// ```
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            source_type: "url".into(),
            url: url.into(),
            ..Default::default()
        }
    }

    /// An image from a simplestreams server, by alias (or fingerprint), pulled by LXD.
    ///
    /// ```
    /// let source = lxd_proto::ImagesPostSource::simplestreams("https://images.example", "busybox");
    /// assert_eq!(source.protocol, "simplestreams");
    /// assert_eq!(source.mode, "pull");
    /// ```
    pub fn simplestreams(server: impl Into<String>, alias: impl Into<String>) -> Self {
        Self {
            source_type: "image".into(),
            mode: "pull".into(),
            protocol: "simplestreams".into(),
            server: server.into(),
            alias: alias.into(),
            ..Default::default()
        }
    }

    /// An image on another LXD server (`https://host:port`), by fingerprint, pulled by LXD;
    /// set `secret` for a private image, `certificate` for a self-signed server.
    ///
    /// ```
    /// let source = lxd_proto::ImagesPostSource::lxd_fingerprint("https://10.0.0.2:8443", "ce056e95");
    /// assert_eq!(source.fingerprint, "ce056e95");
    /// assert_eq!(source.protocol, "lxd");
    /// ```
    pub fn lxd_fingerprint(server: impl Into<String>, fingerprint: impl Into<String>) -> Self {
        Self {
            source_type: "image".into(),
            mode: "pull".into(),
            protocol: "lxd".into(),
            server: server.into(),
            fingerprint: fingerprint.into(),
            ..Default::default()
        }
    }

    /// An image on another LXD server, by alias, pulled by LXD.
    ///
    /// ```
    /// let source = lxd_proto::ImagesPostSource::lxd_alias("https://10.0.0.2:8443", "busybox");
    /// assert_eq!(source.alias, "busybox");
    /// ```
    pub fn lxd_alias(server: impl Into<String>, alias: impl Into<String>) -> Self {
        Self {
            source_type: "image".into(),
            mode: "pull".into(),
            protocol: "lxd".into(),
            server: server.into(),
            alias: alias.into(),
            ..Default::default()
        }
    }
}

impl fmt::Debug for ImagesPostSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImagesPostSource")
            .field("source_type", &self.source_type)
            .field("name", &self.name)
            .field("fingerprint", &self.fingerprint)
            .field("url", &self.url)
            .field("mode", &self.mode)
            .field("alias", &self.alias)
            .field("certificate", &self.certificate)
            .field("protocol", &self.protocol)
            .field("server", &self.server)
            .field("image_type", &self.image_type)
            .field("secret", &redact_str(&self.secret))
            .field("project", &self.project)
            .field(
                "extra",
                &crate::util::redact(&Value::Object(self.extra.clone())),
            )
            .finish()
    }
}

/// An image alias (`GET /1.0/images/aliases/<name>`).
///
/// ```
/// let alias: lxd_proto::ImageAliasesEntry = serde_json::from_str(
///     r#"{"name": "web", "description": "", "target": "be41f891", "type": "container"}"#,
/// )
/// .unwrap();
/// assert_eq!(alias.target, "be41f891");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageAliasesEntry {
    /// Alias name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Fingerprint of the image it points at.
    pub target: String,
    /// `container` or `virtual-machine`.
    #[serde(rename = "type")]
    pub alias_type: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageAliasesEntry {
    /// The writable part, for `PUT /1.0/images/aliases/<name>`.
    ///
    /// ```
    /// use lxd_proto::ImageAliasesEntry;
    ///
    /// let alias: ImageAliasesEntry = serde_json::from_str(r#"{"name": "app/latest",
    ///     "description": "", "target": "be41f891", "type": "container"}"#).unwrap();
    /// // Point the alias at a newly published image.
    /// let mut put = alias.writable();
    /// put.target = "6c9a0e2f".into();
    /// assert_eq!(
    ///     serde_json::to_string(&put).unwrap(),
    ///     r#"{"description":"","target":"6c9a0e2f"}"#,
    /// );
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_put)
    pub fn writable(&self) -> ImageAliasesEntryPut {
        ImageAliasesEntryPut {
            description: self.description.clone(),
            target: self.target.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `POST /1.0/images/aliases`: a new alias.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageAliasesPost {
    /// Alias name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Fingerprint of the image it points at.
    pub target: String,
    /// `container` or `virtual-machine` (not sent when empty).
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub alias_type: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PUT`/`PATCH /1.0/images/aliases/<name>`: the alias's target and description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageAliasesEntryPut {
    /// Description.
    pub description: String,
    /// Fingerprint of the image it points at.
    pub target: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/images/aliases/<name>`: rename an alias.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageAliasesEntryPost {
    /// The new name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `GET /1.0/images/<fingerprint>` of an image published from a snapshot, LXD 5.0.2.
    const FIXTURE: &str = include_str!("../tests/fixtures/image_published.json");

    #[test]
    fn real_image_round_trips() {
        let value: Value = serde_json::from_str(FIXTURE).unwrap();
        let image: Image = serde_json::from_value(value["metadata"].clone()).unwrap();
        assert_eq!(image.fingerprint.len(), 64);
        assert_eq!(image.image_type, InstanceType::Container);
        assert_eq!(image.properties["description"], "fixture");
        assert_eq!(image.aliases[0].name, "fx-i4-img");
        assert_eq!(image.aliases[0].description, "published");
        assert!(image.size > 0);
        assert!(image.update_source.is_none());
        assert!(image.extra.is_empty(), "{:?}", image.extra);
        assert_eq!(serde_json::to_value(&image).unwrap(), value["metadata"]);
        assert_eq!(image.writable().properties, image.properties);
    }

    #[test]
    fn aliases_round_trip_and_keep_unknown_fields() {
        // `GET /1.0/images/aliases/busybox` on LXD 5.0.2, plus a field from a newer server.
        let value = json!({"description": "", "name": "busybox",
            "target": "ce056e95d94949ba57981b3ecbf76ca599c0582903a0244339c1552d014ce92a",
            "type": "container", "project": "default"});
        let alias: ImageAliasesEntry = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(alias.alias_type, "container");
        assert_eq!(alias.extra["project"], "default");
        assert_eq!(serde_json::to_value(&alias).unwrap(), value);
        let put = alias.writable();
        assert_eq!(put.target, alias.target);
        assert_eq!(
            serde_json::to_value(ImageAliasesPost {
                name: "a".into(),
                target: "ff".into(),
                ..Default::default()
            })
            .unwrap(),
            json!({"name": "a", "description": "", "target": "ff"})
        );
        assert_eq!(
            serde_json::to_value(ImagesPostSource::lxd_fingerprint("https://h:8443", "ff"))
                .unwrap(),
            json!({"type": "image", "mode": "pull", "protocol": "lxd",
                   "server": "https://h:8443", "fingerprint": "ff"})
        );
    }

    #[test]
    fn publish_requests_and_secret_redaction() {
        let request = ImagesPost {
            source: Some(ImagesPostSource::snapshot("c1", "snap0")),
            properties: [("os".to_string(), "busybox".to_string())].into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"properties": {"os": "busybox"},
                   "source": {"type": "snapshot", "name": "c1/snap0"}})
        );
        let source = ImagesPostSource {
            secret: "s3cr3t".into(),
            ..ImagesPostSource::instance("c1")
        };
        let debug = format!("{source:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }
}
