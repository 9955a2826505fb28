//! `/1.0/projects`.

use std::collections::BTreeMap;
use std::sync::Arc;

use lxd_proto::{LifecycleAction, Project, ProjectPut, ProjectsPost};
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::events::context;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::{PROJECT_FEATURES, ProfileRec, State};
use crate::util::{self, api_url};

/// LXD's project name rules (`projectValidateName`).
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("No name provided".into());
    }
    if name.contains('/') {
        return Err("Project names may not contain slashes".into());
    }
    if name.contains(' ') {
        return Err("Project names may not contain spaces".into());
    }
    if name.contains('_') {
        return Err("Project names may not contain underscores".into());
    }
    if name.contains(['\'', '"']) {
        return Err("Project names may not contain quotes".into());
    }
    if name == "*" {
        return Err("Reserved project name".into());
    }
    if name == "." || name == ".." {
        return Err(format!("Invalid project name {name:?}"));
    }
    Ok(())
}

/// Project config keys LXD 5.0 knows, by prefix; features must be booleans.
fn validate_config(config: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in config {
        let known = key.starts_with("features.")
            || key.starts_with("limits.")
            || key.starts_with("restricted")
            || key.starts_with("user.")
            || key.starts_with("images.")
            || key.starts_with("backups.");
        if !known {
            return Err(format!("Invalid project configuration key {key:?}"));
        }
        if key.starts_with("features.") {
            if !PROJECT_FEATURES.iter().any(|(k, _)| k == key) {
                return Err(format!("Invalid project configuration key {key:?}"));
            }
            if !matches!(
                value.to_ascii_lowercase().as_str(),
                "true" | "false" | "1" | "0" | "yes" | "no" | "on" | "off"
            ) {
                return Err(format!(
                    "Invalid value for project configuration key {key:?}: Invalid value for a boolean {value:?}"
                ));
            }
        }
    }
    Ok(())
}

/// What a project is used by, as URLs.
fn used_by(state: &State, project: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in state.instances.iter().filter(|i| i.project == project) {
        out.push(api_url(&["instances", &i.name], project));
    }
    for p in state.profiles.iter().filter(|p| p.project == project) {
        out.push(api_url(&["profiles", &p.name], project));
    }
    for i in state.images.iter().filter(|i| i.project == project) {
        out.push(api_url(&["images", &i.fingerprint], project));
    }
    for n in state
        .networks
        .iter()
        .filter(|n| n.managed && n.project == project)
    {
        out.push(api_url(&["networks", &n.name], project));
    }
    for v in state
        .volumes
        .iter()
        .filter(|v| v.kind == "custom" && v.project == project)
    {
        out.push(api_url(
            &["storage-pools", &v.pool, "volumes", "custom", &v.name],
            project,
        ));
    }
    out
}

fn render(state: &State, project: &Project) -> Project {
    Project {
        used_by: used_by(state, &project.name),
        ..project.clone()
    }
}

fn etag(project: &Project) -> String {
    util::etag_of(&json!([project.description, project.config]))
}

/// Whether only the default profile uses it (LXD's `projectIsEmpty`).
fn is_empty(state: &State, name: &str) -> bool {
    !state.instances.iter().any(|i| i.project == name)
        && !state.images.iter().any(|i| i.project == name)
        && !state
            .profiles
            .iter()
            .any(|p| p.project == name && p.name != "default")
        && !state
            .volumes
            .iter()
            .any(|v| v.project == name && v.kind == "custom")
}

/// `GET /1.0/projects`.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    let items: Vec<Value> = state
        .projects
        .values()
        .map(|p| {
            if req.recursion() > 0 {
                serde_json::to_value(render(&state, p)).unwrap_or(Value::Null)
            } else {
                Value::String(api_url(&["projects", &p.name], ""))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `GET /1.0/projects/<name>`.
pub(crate) fn get(inner: &Arc<Inner>, name: &str) -> ApiResult {
    let state = inner.state();
    let project = state
        .projects
        .get(name)
        .ok_or_else(|| ApiError::not_found("Project not found"))?;
    let rendered = render(&state, project);
    Ok(Reply::with_etag(
        serde_json::to_value(&rendered).unwrap_or(Value::Null),
        etag(project),
    ))
}

/// `POST /1.0/projects`.
pub(crate) fn create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let post: ProjectsPost = req.json()?;
    validate_name(&post.name).map_err(ApiError::bad_request)?;
    let mut config: BTreeMap<String, String> = PROJECT_FEATURES
        .iter()
        .filter(|(key, default)| *default && !post.config.contains_key(*key))
        .map(|(key, _)| (key.to_string(), "true".to_string()))
        .collect();
    config.extend(post.config.clone());
    validate_config(&config).map_err(ApiError::bad_request)?;
    let mut state = inner.state();
    if state.has_project(&post.name) {
        return Err(ApiError::conflict(format!(
            "Failed creating project {:?}: Failed adding database record: This \"projects\" entry already exists",
            post.name
        )));
    }
    let with_profiles = config
        .get("features.profiles")
        .is_some_and(|v| util::is_true(v));
    state.projects.insert(
        post.name.clone(),
        Project {
            name: post.name.clone(),
            description: post.description.clone(),
            config,
            ..Default::default()
        },
    );
    if with_profiles {
        state.profiles.push(ProfileRec {
            name: "default".into(),
            project: post.name.clone(),
            description: format!("Default LXD profile for project {}", post.name),
            ..Default::default()
        });
    }
    drop(state);
    let source = api_url(&["projects", &post.name], "");
    inner.events.lifecycle(
        &post.name,
        LifecycleAction::ProjectCreated,
        source.clone(),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::created(source))
}

/// `PUT` / `PATCH /1.0/projects/<name>`.
pub(crate) fn update(inner: &Arc<Inner>, req: &Req, name: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let put: ProjectPut = req.json()?;
    let mut state = inner.state();
    let current = state
        .projects
        .get(name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Project not found"))?;
    check_etag(req, &etag(&current))?;
    let mut config = if patch {
        let mut merged = current.config.clone();
        merged.extend(put.config.clone());
        merged
    } else {
        put.config.clone()
    };
    config.retain(|_, v| !v.is_empty());
    let description = if patch && !body.contains_key("description") {
        current.description.clone()
    } else {
        put.description.clone()
    };
    validate_config(&config).map_err(ApiError::bad_request)?;
    let features_changed = PROJECT_FEATURES
        .iter()
        .any(|(key, _)| current.config.get(*key) != config.get(*key));
    if features_changed && name != "default" && !is_empty(&state, name) {
        return Err(ApiError::bad_request(
            "Features can only be changed on empty projects",
        ));
    }
    if name == "default" && features_changed {
        return Err(ApiError::bad_request(
            "You can't change the features of the default project",
        ));
    }
    let gained_profiles = !current
        .config
        .get("features.profiles")
        .is_some_and(|v| util::is_true(v))
        && config
            .get("features.profiles")
            .is_some_and(|v| util::is_true(v));
    if let Some(project) = state.projects.get_mut(name) {
        project.config = config;
        project.description = description;
    }
    if gained_profiles && !state.profiles.iter().any(|p| p.project == name) {
        state.profiles.push(ProfileRec {
            name: "default".into(),
            project: name.to_string(),
            description: format!("Default LXD profile for project {name}"),
            ..Default::default()
        });
    }
    drop(state);
    inner.events.lifecycle(
        name,
        LifecycleAction::ProjectUpdated,
        api_url(&["projects", name], ""),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `POST /1.0/projects/<name>`: rename (an operation).
pub(crate) fn rename(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let new_name = super::text(&body, "name").to_string();
    if name == "default" {
        return Err(ApiError::new(
            403,
            "The 'default' project cannot be renamed",
        ));
    }
    let op = inner.ops.create(OpSpec::task("Renaming project", ""));
    let task_inner = inner.clone();
    let old = name.to_string();
    let requestor = req.requestor();
    let fault = req.faults.operation.clone();
    Ok(inner.ops.start(&op, fault, async move {
        let inner = task_inner;
        {
            let mut state = inner.state();
            if state.has_project(&new_name) {
                return Err(format!("A project named {new_name:?} already exists"));
            }
            if !state.has_project(&old) {
                return Err(format!("Failed loading project {old:?}: Project not found"));
            }
            if !is_empty(&state, &old) {
                return Err("Only empty projects can be renamed".into());
            }
            validate_name(&new_name)?;
            let mut project = state.projects.remove(&old).expect("checked above");
            project.name = new_name.clone();
            state.projects.insert(new_name.clone(), project);
            for profile in state.profiles.iter_mut().filter(|p| p.project == old) {
                profile.project = new_name.clone();
            }
        }
        inner.events.lifecycle(
            &new_name,
            LifecycleAction::ProjectRenamed,
            api_url(&["projects", &new_name], ""),
            context(&[("old_name", Value::String(old.clone()))]),
            Some(requestor),
        );
        Ok(())
    }))
}

/// `DELETE /1.0/projects/<name>`.
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    if name == "default" {
        return Err(ApiError::new(
            403,
            "The 'default' project cannot be deleted",
        ));
    }
    let mut state = inner.state();
    if !state.has_project(name) {
        return Err(ApiError::not_found(format!(
            "Fetch project {name:?}: Project not found"
        )));
    }
    if !is_empty(&state, name) {
        return Err(ApiError::internal("Only empty projects can be removed"));
    }
    state.projects.remove(name);
    state.profiles.retain(|p| p.project != name);
    state.aliases.retain(|a| a.project != name);
    drop(state);
    inner.events.lifecycle(
        name,
        LifecycleAction::ProjectDeleted,
        api_url(&["projects", name], ""),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `GET /1.0/projects/<name>/state`: resource usage against (unlimited) limits.
pub(crate) fn state(inner: &Arc<Inner>, name: &str) -> ApiResult {
    let state = inner.state();
    if !state.has_project(name) {
        return Err(ApiError::not_found("Project not found"));
    }
    let instances: Vec<_> = state
        .instances
        .iter()
        .filter(|i| i.project == name)
        .collect();
    let containers = instances.iter().filter(|i| i.is_container()).count();
    let usage = |n: usize| json!({"Limit": -1, "Usage": n});
    Ok(Reply::sync(json!({
        "resources": {
            "containers": usage(containers),
            "cpu": usage(0),
            "disk": usage(instances.iter().map(|i| i.fs.usage() as usize).sum()),
            "instances": usage(instances.len()),
            "memory": usage(0),
            "networks": usage(state.networks.iter().filter(|n| n.managed && n.project == name).count()),
            "processes": usage(0),
            "virtual-machines": usage(instances.len() - containers),
        }
    })))
}
