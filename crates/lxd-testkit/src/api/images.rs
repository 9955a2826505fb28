//! `/1.0/images` and `/1.0/images/aliases`: list, upload (unified and split), publish from
//! an instance or snapshot, get, update, export, delete; aliases CRUD and rename.
//!
//! Images are uncompressed tarballs (`metadata.yaml`, `rootfs/`): published images are
//! written that way and uploads of that form are read (architecture, properties, files).
//! Compressed uploads are stored as bytes: their instances start from a directory skeleton,
//! their properties come from the `X-LXD-properties` header (architecture `x86_64`).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use lxd_proto::LifecycleAction;
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::events::context;
use crate::flavor::ServerFlavor;
use crate::fs::Fs;
use crate::http::{ApiError, ApiResult, Reply, Req, full};
use crate::multipart;
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::{AliasRec, ImageRec, State, map_json};
use crate::util::{self, api_url};

fn not_found() -> ApiError {
    ApiError::not_found("Image not found")
}

fn url(project: &str, fingerprint: &str) -> String {
    api_url(&["images", fingerprint], project)
}

fn alias_url(project: &str, name: &str) -> String {
    api_url(&["images", "aliases", name], project)
}

fn render(state: &State, image: &ImageRec) -> Value {
    let aliases: Vec<Value> = state
        .aliases
        .iter()
        .filter(|a| a.project == image.project && a.target == image.fingerprint)
        .map(|a| json!({"name": a.name, "description": a.description}))
        .collect();
    json!({
        "aliases": aliases,
        "architecture": image.architecture,
        "auto_update": image.auto_update,
        "cached": image.cached,
        "created_at": image.created_at,
        "expires_at": image.expires_at,
        "filename": image.filename,
        "fingerprint": image.fingerprint,
        "last_used_at": image.last_used_at,
        "profiles": image.profiles,
        "properties": map_json(&image.properties),
        "public": image.public,
        "size": image.size,
        "type": image.kind,
        "uploaded_at": image.uploaded_at,
    })
}

fn etag(image: &ImageRec) -> String {
    util::etag_of(&json!([image.public, image.auto_update, image.properties]))
}

fn render_alias(alias: &AliasRec) -> Value {
    json!({
        "description": alias.description,
        "name": alias.name,
        "target": alias.target,
        "type": alias.kind,
    })
}

fn alias_etag(alias: &AliasRec) -> String {
    util::etag_of(&json!([alias.name, alias.description, alias.target]))
}

/// The project holding the request's images, checked to exist.
fn images_project(state: &State, req: &Req) -> Result<String, ApiError> {
    let project = req.project();
    if !state.has_project(&project) {
        return Err(ApiError::not_found(
            "Check if project has images: fetch project: Project not found",
        ));
    }
    Ok(state.images_project(&project))
}

/// An image by fingerprint prefix; untrusted clients only see public images.
fn find<'a>(state: &'a State, req: &Req, reference: &str) -> Result<&'a ImageRec, ApiError> {
    let project = images_project(state, req)?;
    let mut matches = state
        .images
        .iter()
        .filter(|i| i.project == project && i.fingerprint.starts_with(reference));
    let image = matches
        .next()
        .filter(|_| !reference.is_empty())
        .ok_or_else(not_found)?;
    if matches.next().is_some() {
        return Err(ApiError::bad_request(
            "More than one image matches the fingerprint prefix",
        ));
    }
    if !req.trusted && !image.public {
        return Err(not_found());
    }
    Ok(image)
}

/// `GET /1.0/images`.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let clauses = match req.query("filter") {
        Some(text) if !text.trim().is_empty() => crate::filter::parse(text)
            .map_err(|e| ApiError::bad_request(format!("Invalid filter: {e}")))?,
        _ => Vec::new(),
    };
    let state = inner.state();
    let project = images_project(&state, req)?;
    let mut items = Vec::new();
    for image in state
        .images
        .iter()
        .filter(|i| i.project == project && (req.trusted || i.public))
    {
        let rendered = render(&state, image);
        if !clauses.is_empty() && !crate::filter::matches(&rendered, &clauses) {
            continue;
        }
        items.push(if req.recursion() > 0 {
            rendered
        } else {
            Value::String(url(&req.project(), &image.fingerprint))
        });
    }
    Ok(Reply::sync(items))
}

/// `GET /1.0/images/<fingerprint>`.
pub(crate) fn get(inner: &Arc<Inner>, req: &Req, fingerprint: &str) -> ApiResult {
    let state = inner.state();
    let image = find(&state, req, fingerprint)?;
    Ok(Reply::with_etag(render(&state, image), etag(image)))
}

/// `PUT`/`PATCH /1.0/images/<fingerprint>`.
pub(crate) fn update(inner: &Arc<Inner>, req: &Req, fingerprint: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let source = {
        let mut state = inner.state();
        let found = find(&state, req, fingerprint)?;
        check_etag(req, &etag(found))?;
        let (project, fp) = (found.project.clone(), found.fingerprint.clone());
        let image = state
            .images
            .iter_mut()
            .find(|i| i.project == project && i.fingerprint == fp)
            .expect("found above");
        let set = |key: &str| !patch || body.contains_key(key);
        if set("auto_update") {
            image.auto_update = body
                .get("auto_update")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        if set("public") {
            image.public = body.get("public").and_then(Value::as_bool).unwrap_or(false);
        }
        if set("properties") {
            let properties = crate::state::config_from_json(body.get("properties"))
                .map_err(ApiError::bad_request)?;
            if patch {
                image.properties.extend(properties);
            } else {
                image.properties = properties;
            }
        }
        if body.contains_key("expires_at") {
            image.expires_at = body
                .get("expires_at")
                .and_then(Value::as_str)
                .unwrap_or(util::GO_ZERO_TIME)
                .to_string();
        }
        if body.contains_key("profiles") {
            image.profiles = crate::state::strings_from_json(body.get("profiles"))
                .map_err(ApiError::bad_request)?;
        }
        url(&req.project(), &fp)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ImageUpdated,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `DELETE /1.0/images/<fingerprint>` (an operation; aliases go with it).
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, fingerprint: &str) -> ApiResult {
    let (project, fp) = {
        let state = inner.state();
        let image = find(&state, req, fingerprint)?;
        (image.project.clone(), image.fingerprint.clone())
    };
    let op = inner
        .ops
        .create(OpSpec::task("Deleting image", &req.project()).resource("images", &fp));
    let task_inner = inner.clone();
    let request_project = req.project();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let before = state.images.len();
                state
                    .images
                    .retain(|i| !(i.project == project && i.fingerprint == fp));
                if state.images.len() == before {
                    return Err("Image not found".into());
                }
                state
                    .aliases
                    .retain(|a| !(a.project == project && a.target == fp));
            }
            inner.events.lifecycle(
                &request_project,
                LifecycleAction::ImageDeleted,
                url(&request_project, &fp),
                Map::new(),
                Some(requestor),
            );
            Ok(())
        }))
}

/// The extension LXD's `DetectCompression` names for a file, from its first bytes.
fn compression_extension(data: &[u8]) -> &'static str {
    match data {
        [0x1f, 0x8b, ..] => ".tar.gz",
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => ".tar.xz",
        [b'B', b'Z', b'h', ..] => ".tar.bz2",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => ".tar.zst",
        [b'h', b's', b'q', b's', ..] => ".squashfs",
        [b'Q', b'F', b'I', 0xfb, ..] => ".qcow2",
        _ if data.get(257..262) == Some(b"ustar") => ".tar",
        _ => "",
    }
}

/// `GET /1.0/images/<fingerprint>/export`: the file (unified) or a multipart body (split),
/// named `<fingerprint><extension>` like LXD names them.
pub(crate) fn export(inner: &Arc<Inner>, req: &Req, fingerprint: &str) -> ApiResult {
    let (response, fp) = {
        let state = inner.state();
        let image = find(&state, req, fingerprint)?;
        let filename = format!(
            "{}{}",
            image.fingerprint,
            compression_extension(&image.data)
        );
        let mut response = match &image.rootfs_data {
            None => {
                let mut response = http::Response::new(full(image.data.clone()));
                let headers = response.headers_mut();
                headers.insert(
                    "content-type",
                    http::HeaderValue::from_static("application/octet-stream"),
                );
                if let Ok(v) = http::HeaderValue::from_str(&format!("inline;filename={filename}")) {
                    headers.insert("content-disposition", v);
                }
                response
            }
            Some(rootfs) => {
                let boundary = util::secret();
                let rootfs_name = if image.kind == "virtual-machine" {
                    "rootfs.img"
                } else {
                    "rootfs"
                };
                let body = multipart::write(
                    &[
                        multipart::Part {
                            name: "metadata".into(),
                            filename: format!("meta-{filename}"),
                            data: image.data.clone(),
                        },
                        multipart::Part {
                            name: rootfs_name.into(),
                            filename: format!(
                                "{}{}",
                                image.fingerprint,
                                compression_extension(rootfs)
                            ),
                            data: rootfs.clone(),
                        },
                    ],
                    &boundary,
                );
                let mut response = http::Response::new(full(body));
                if let Ok(v) = http::HeaderValue::from_str(&format!(
                    "multipart/form-data; boundary={boundary}"
                )) {
                    response.headers_mut().insert("content-type", v);
                }
                response
            }
        };
        *response.status_mut() = http::StatusCode::OK;
        if let Some((name, value)) = inner.flavor.export_type_header() {
            // Incus says which kind of image this is (`oci` for OCI images).
            let value = match image.properties.get("type").map(String::as_str) {
                Some("oci") => "oci",
                _ => value,
            };
            if let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) {
                response
                    .headers_mut()
                    .insert(name, http::HeaderValue::from_static(value));
            }
        }
        (response, image.fingerprint.clone())
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ImageRetrieved,
        url(&req.project(), &fp),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::Raw(response))
}

/// What an upload or publish produced.
struct NewImage {
    data: Bytes,
    rootfs_data: Option<Bytes>,
    filename: String,
    properties: BTreeMap<String, String>,
    public: bool,
    kind: String,
    architecture: String,
    rootfs: Fs,
}

/// Reads an upload: unified (the body is the file) or split (multipart). Its headers carry
/// the flavor's prefix only: Incus ignores `X-LXD-properties` and the like (verified on
/// Incus 6.0.4: the image came out private, unnamed, with its metadata's properties).
fn read_upload(flavor: ServerFlavor, req: &Req) -> Result<NewImage, String> {
    let content_type = req.header("content-type").unwrap_or_default().to_string();
    let mut properties = BTreeMap::new();
    if let Some(encoded) = req.header(&flavor.header("properties")) {
        for pair in encoded.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            properties.insert(util::percent_decode(k, true), util::percent_decode(v, true));
        }
    }
    let public = req
        .header(&flavor.header("public"))
        .is_some_and(util::is_true);
    let (data, rootfs_data, filename, vm) = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = multipart::boundary(&content_type).ok_or("multipart: boundary is empty")?;
        let parts = multipart::parse(&req.body, &boundary)?;
        let metadata = parts.first().ok_or("multipart: NextPart: EOF")?;
        let rootfs = parts.get(1).ok_or("multipart: NextPart: EOF")?;
        if metadata.name != "metadata" {
            return Err(format!(
                "Invalid multipart image: first part is {:?}",
                metadata.name
            ));
        }
        if rootfs.name != "rootfs" && rootfs.name != "rootfs.img" {
            return Err(format!(
                "Invalid multipart image: second part is {:?}",
                rootfs.name
            ));
        }
        (
            metadata.data.clone(),
            Some(rootfs.data.clone()),
            metadata.filename.clone(),
            rootfs.name == "rootfs.img",
        )
    } else {
        (
            req.body.clone(),
            None,
            req.header(&flavor.header("filename"))
                .unwrap_or_default()
                .to_string(),
            false,
        )
    };
    // An uncompressed tarball is read: its metadata.yaml gives architecture and properties
    // (the header's properties win), its rootfs/ the files instances start with.
    let (metadata, rootfs) = match crate::tar::read_image(&data) {
        Some((metadata, fs)) => (metadata, fs),
        None => (crate::tar::ImageMetadata::default(), Fs::skeleton()),
    };
    let rootfs = if rootfs.entries().is_empty() {
        Fs::skeleton()
    } else {
        rootfs
    };
    let mut all_properties = metadata.properties.clone();
    all_properties.extend(properties);
    let architecture = all_properties
        .get("architecture")
        .cloned()
        .filter(|a| !a.is_empty())
        .or_else(|| (!metadata.architecture.is_empty()).then(|| metadata.architecture.clone()))
        .unwrap_or_else(|| "x86_64".into());
    Ok(NewImage {
        data,
        rootfs_data,
        filename,
        properties: all_properties,
        public,
        kind: if vm { "virtual-machine" } else { "container" }.into(),
        architecture,
        rootfs,
    })
}

/// Adds an image (and the requested aliases) to the state; returns its fingerprint.
fn store(
    inner: &Arc<Inner>,
    project: &str,
    image: NewImage,
    expected: Option<String>,
    aliases: &[(String, String)],
) -> Result<(String, String), String> {
    let mut hashed = image.data.to_vec();
    if let Some(rootfs) = &image.rootfs_data {
        hashed.extend_from_slice(rootfs);
    }
    let fingerprint = util::sha256_hex(&hashed);
    if let Some(expected) = expected.filter(|e| !e.is_empty())
        && expected != fingerprint
    {
        return Err(format!(
            "fingerprints don't match, got {fingerprint} expected {expected}"
        ));
    }
    let mut state = inner.state();
    let images_project = state.images_project(project);
    if state
        .images
        .iter()
        .any(|i| i.project == images_project && i.fingerprint == fingerprint)
    {
        return Err("Image with same fingerprint already exists".into());
    }
    for (name, _) in aliases {
        if state.alias(project, name).is_some() {
            return Err(format!("Alias already exists: {name}"));
        }
    }
    let now = util::now();
    let kind = image.kind.clone();
    state.images.push(ImageRec {
        fingerprint: fingerprint.clone(),
        project: images_project.clone(),
        filename: image.filename,
        size: hashed.len() as i64,
        architecture: image.architecture,
        kind: image.kind,
        public: image.public,
        auto_update: false,
        cached: false,
        properties: image.properties,
        profiles: vec!["default".into()],
        created_at: now.clone(),
        uploaded_at: now,
        expires_at: util::GO_ZERO_TIME.into(),
        last_used_at: util::GO_ZERO_TIME.into(),
        data: image.data,
        rootfs_data: image.rootfs_data,
        rootfs: image.rootfs,
    });
    for (name, description) in aliases {
        state.aliases.push(AliasRec {
            name: name.clone(),
            project: images_project.clone(),
            description: description.clone(),
            target: fingerprint.clone(),
            kind: kind.clone(),
        });
    }
    Ok((fingerprint, hashed.len().to_string()))
}

/// An image made from an instance or snapshot (`lxc publish`).
fn publish_source(
    state: &State,
    project: &str,
    body: &Map<String, Value>,
) -> Result<NewImage, ApiError> {
    let source = body
        .get("source")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let name = source
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (parent, snapshot) = match name.split_once('/') {
        Some((p, s)) => (p, Some(s)),
        None => (name, None),
    };
    let rec = state
        .instance(project, parent)
        .ok_or_else(crate::api::instances::not_found)?;
    let fs = match snapshot {
        Some(snap) => rec
            .snapshots
            .iter()
            .find(|s| s.name == snap)
            .ok_or_else(|| ApiError::not_found("Instance snapshot not found"))?
            .fs
            .clone(),
        None => rec.fs.clone(),
    };
    let mut properties: BTreeMap<String, String> = rec
        .config
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("image.").map(|k| (k.to_string(), v.clone())))
        .collect();
    properties.extend(
        crate::state::config_from_json(body.get("properties")).map_err(ApiError::bad_request)?,
    );
    let now = std::time::SystemTime::now();
    let data = crate::tar::write_image(
        &crate::tar::ImageMetadata {
            architecture: rec.architecture.clone(),
            creation_date: crate::tar::unix_seconds(now),
            properties: properties.clone(),
        },
        &fs,
        crate::tar::unix_seconds(now),
    );
    Ok(NewImage {
        data,
        rootfs_data: None,
        filename: super::text(body, "filename").to_string(),
        properties,
        public: body.get("public").and_then(Value::as_bool).unwrap_or(false),
        kind: rec.kind.to_string(),
        architecture: rec.architecture.clone(),
        rootfs: fs,
    })
}

/// `POST /1.0/images`: upload (body is the image), or JSON with a `source`.
pub(crate) fn create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let project = req.project();
    {
        let state = inner.state();
        images_project(&state, req)?;
    }
    let json_body: Option<Map<String, Value>> = serde_json::from_slice(&req.body).ok();
    let is_json_type = req.header("content-type") == Some("application/json");
    let (image, aliases) = match json_body {
        None if is_json_type => {
            return Err(req
                .json::<Value>()
                .err()
                .unwrap_or_else(|| ApiError::bad_request("EOF")));
        }
        None => (read_upload(inner.flavor, req), Vec::new()),
        Some(body) => {
            let aliases: Vec<(String, String)> = body
                .get("aliases")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|a| {
                            let text = |k| {
                                a.get(k)
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string()
                            };
                            (text("name"), text("description"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let source_type = body
                .get("source")
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            match source_type.as_str() {
                "instance" | "container" | "virtual-machine" | "snapshot" => {
                    let state = inner.state();
                    (
                        publish_source(&state, &project, &body).map_err(|e| e.message),
                        aliases,
                    )
                }
                "image" | "url" => (
                    Err(format!(
                        "lxd-testkit cannot download images (source type {source_type:?}): it has no network"
                    )),
                    aliases,
                ),
                _ => return Err(ApiError::internal("Invalid images JSON")),
            }
        }
    };
    let op = inner
        .ops
        .create(OpSpec::task("Downloading image", &project));
    let task_inner = inner.clone();
    let task_op = op.clone();
    let expected = req
        .header(&inner.flavor.header("fingerprint"))
        .map(str::to_string);
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            let image = image?;
            let kind = image.kind.clone();
            let (fingerprint, size) = store(&inner, &project, image, expected, &aliases)?;
            let mut metadata = Map::new();
            metadata.insert("fingerprint".into(), Value::String(fingerprint.clone()));
            metadata.insert("size".into(), Value::String(size));
            task_op.extend_metadata(metadata);
            inner.events.lifecycle(
                &project,
                LifecycleAction::ImageCreated,
                url(&project, &fingerprint),
                context(&[("type", Value::String(kind))]),
                Some(requestor),
            );
            Ok(())
        }))
}

/// `GET /1.0/images/aliases`.
pub(crate) fn aliases_list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    let project = images_project(&state, req)?;
    let items: Vec<Value> = state
        .aliases
        .iter()
        .filter(|a| a.project == project)
        .filter(|a| {
            req.trusted
                || state
                    .image_by_fingerprint(&project, &a.target)
                    .is_some_and(|i| i.public)
        })
        .map(|a| {
            if req.recursion() > 0 {
                render_alias(a)
            } else {
                Value::String(alias_url(&req.project(), &a.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

fn find_alias<'a>(state: &'a State, req: &Req, name: &str) -> Result<&'a AliasRec, ApiError> {
    let project = images_project(state, req)?;
    let alias = state
        .aliases
        .iter()
        .find(|a| a.project == project && a.name == name)
        .ok_or_else(|| ApiError::not_found("Image alias not found"))?;
    if !req.trusted
        && !state
            .image_by_fingerprint(&project, &alias.target)
            .is_some_and(|i| i.public)
    {
        return Err(ApiError::not_found("Image alias not found"));
    }
    Ok(alias)
}

/// `GET /1.0/images/aliases/<name>`.
pub(crate) fn alias_get(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let alias = find_alias(&state, req, name)?;
    Ok(Reply::with_etag(render_alias(alias), alias_etag(alias)))
}

/// `POST /1.0/images/aliases`.
pub(crate) fn alias_create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let body = req.json_object()?;
    let text = |k: &str| super::text(&body, k).to_string();
    let (name, target, description) = (text("name"), text("target"), text("description"));
    if name.is_empty() || target.is_empty() {
        return Err(ApiError::bad_request("name and target are required"));
    }
    let source = {
        let mut state = inner.state();
        let project = images_project(&state, req)?;
        if state
            .aliases
            .iter()
            .any(|a| a.project == project && a.name == name)
        {
            return Err(ApiError::conflict(format!("Alias {name:?} already exists")));
        }
        let image = state
            .image_by_fingerprint(&project, &target)
            .ok_or_else(not_found)?;
        let (fingerprint, kind) = (image.fingerprint.clone(), image.kind.clone());
        state.aliases.push(AliasRec {
            name: name.clone(),
            project,
            description,
            target: fingerprint,
            kind,
        });
        alias_url(&req.project(), &name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ImageAliasCreated,
        source.clone(),
        context(&[("target", Value::String(target))]),
        Some(req.requestor()),
    );
    Ok(Reply::created(source))
}

/// `PUT`/`PATCH /1.0/images/aliases/<name>`.
pub(crate) fn alias_update(inner: &Arc<Inner>, req: &Req, name: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let source = {
        let mut state = inner.state();
        let current = find_alias(&state, req, name)?.clone();
        check_etag(req, &alias_etag(&current))?;
        let mut target = current.target.clone();
        let mut kind = current.kind.clone();
        if !patch || body.contains_key("target") {
            let reference = super::text(&body, "target");
            let image = state
                .image_by_fingerprint(&current.project, reference)
                .ok_or_else(not_found)?;
            target = image.fingerprint.clone();
            kind = image.kind.clone();
        }
        let alias = state
            .aliases
            .iter_mut()
            .find(|a| a.project == current.project && a.name == name)
            .expect("found above");
        alias.target = target;
        alias.kind = kind;
        if !patch || body.contains_key("description") {
            alias.description = super::text(&body, "description").to_string();
        }
        alias_url(&req.project(), name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ImageAliasUpdated,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `POST /1.0/images/aliases/<name>`: rename.
pub(crate) fn alias_rename(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let new_name = super::text(&body, "name").to_string();
    if new_name.is_empty() {
        return Err(ApiError::bad_request("name is required"));
    }
    let source = {
        let mut state = inner.state();
        let current = find_alias(&state, req, name)?.clone();
        if state
            .aliases
            .iter()
            .any(|a| a.project == current.project && a.name == new_name)
        {
            return Err(ApiError::conflict(format!(
                "Alias {new_name:?} already exists"
            )));
        }
        if let Some(alias) = state
            .aliases
            .iter_mut()
            .find(|a| a.project == current.project && a.name == name)
        {
            alias.name = new_name.clone();
        }
        alias_url(&req.project(), &new_name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ImageAliasRenamed,
        source.clone(),
        context(&[("old_name", Value::String(name.to_string()))]),
        Some(req.requestor()),
    );
    Ok(Reply::created(source))
}

/// `DELETE /1.0/images/aliases/<name>`.
pub(crate) fn alias_delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let source = {
        let mut state = inner.state();
        let current = find_alias(&state, req, name)?.clone();
        state
            .aliases
            .retain(|a| !(a.project == current.project && a.name == name));
        alias_url(&req.project(), name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ImageAliasDeleted,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}
