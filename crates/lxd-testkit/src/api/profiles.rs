//! `/1.0/profiles`: list (with `used_by`), create, get, PUT/PATCH with ETags, rename,
//! delete (refused while used, and for `default`). Instances see profile changes at once in
//! their `expanded_config` and `expanded_devices`.

use std::sync::Arc;

use lxd_proto::LifecycleAction;
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::events::context;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;
use crate::state::{
    ProfileRec, State, clean_config, config_from_json, devices_from_json, map_json,
};
use crate::util::{self, api_url};

fn url(project: &str, name: &str) -> String {
    api_url(&["profiles", name], project)
}

fn not_found() -> ApiError {
    ApiError::not_found("Profile not found")
}

fn used_by(state: &State, profile: &ProfileRec) -> Vec<String> {
    let mut out = Vec::new();
    for i in &state.instances {
        if state.profiles_project(&i.project) == profile.project
            && i.profiles.contains(&profile.name)
        {
            out.push(crate::api::instances::url(i));
            for s in &i.snapshots {
                if s.profiles.contains(&profile.name) {
                    out.push(api_url(
                        &["instances", &i.name, "snapshots", &s.name],
                        &i.project,
                    ));
                }
            }
        }
    }
    out
}

fn render(state: &State, profile: &ProfileRec) -> Value {
    json!({
        "config": map_json(&profile.config),
        "description": profile.description,
        "devices": profile.devices,
        "name": profile.name,
        "used_by": used_by(state, profile),
    })
}

fn etag(profile: &ProfileRec) -> String {
    util::etag_of(&json!([
        profile.config,
        profile.description,
        profile.devices
    ]))
}

/// The project whose profiles the request uses, checked to exist.
fn profiles_project(state: &State, req: &Req) -> Result<String, ApiError> {
    let project = req.project();
    if !state.has_project(&project) {
        return Err(ApiError::not_found(format!(
            "Failed loading project {project:?}: Project not found"
        )));
    }
    Ok(state.profiles_project(&project))
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request("No name provided"));
    }
    if name.contains('/') {
        return Err(ApiError::bad_request(
            "Profile names may not contain slashes",
        ));
    }
    if name == "." || name == ".." {
        return Err(ApiError::bad_request(format!(
            "Invalid profile name {name:?}"
        )));
    }
    Ok(())
}

/// `GET /1.0/profiles`.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    let project = profiles_project(&state, req)?;
    let items: Vec<Value> = state
        .profiles
        .iter()
        .filter(|p| p.project == project)
        .map(|p| {
            if req.recursion() > 0 {
                render(&state, p)
            } else {
                Value::String(url(&req.project(), &p.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `GET /1.0/profiles/<name>`.
pub(crate) fn get(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let project = profiles_project(&state, req)?;
    let profile = state
        .profiles
        .iter()
        .find(|p| p.project == project && p.name == name)
        .ok_or_else(not_found)?;
    Ok(Reply::with_etag(render(&state, profile), etag(profile)))
}

/// `POST /1.0/profiles`.
pub(crate) fn create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let body = req.json_object()?;
    let name = super::text(&body, "name").to_string();
    validate_name(&name)?;
    let config = config_from_json(body.get("config")).map_err(ApiError::bad_request)?;
    let devices = devices_from_json(body.get("devices")).map_err(ApiError::bad_request)?;
    let description = super::text(&body, "description").to_string();
    let source = {
        let mut state = inner.state();
        let project = profiles_project(&state, req)?;
        if state
            .profiles
            .iter()
            .any(|p| p.project == project && p.name == name)
        {
            return Err(ApiError::conflict(format!(
                "Error inserting {name:?} into database: The profile already exists"
            )));
        }
        state.profiles.push(ProfileRec {
            name: name.clone(),
            project,
            description,
            config: clean_config(config),
            devices,
        });
        url(&req.project(), &name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ProfileCreated,
        source.clone(),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::created(source))
}

/// `PUT`/`PATCH /1.0/profiles/<name>`.
pub(crate) fn update(inner: &Arc<Inner>, req: &Req, name: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let config = config_from_json(body.get("config")).map_err(ApiError::bad_request)?;
    let devices = devices_from_json(body.get("devices")).map_err(ApiError::bad_request)?;
    let source = {
        let mut state = inner.state();
        let project = profiles_project(&state, req)?;
        let profile = state
            .profiles
            .iter_mut()
            .find(|p| p.project == project && p.name == name)
            .ok_or_else(not_found)?;
        check_etag(req, &etag(profile))?;
        if patch {
            profile.config.extend(config);
            profile.devices.extend(devices);
        } else {
            profile.config = config;
            profile.devices = devices;
        }
        profile.config = clean_config(std::mem::take(&mut profile.config));
        if !patch || body.contains_key("description") {
            profile.description = super::text(&body, "description").to_string();
        }
        url(&req.project(), name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ProfileUpdated,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `POST /1.0/profiles/<name>`: rename.
pub(crate) fn rename(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let new_name = super::text(&body, "name").to_string();
    if name == "default" {
        return Err(ApiError::new(
            403,
            "The 'default' profile cannot be renamed",
        ));
    }
    validate_name(&new_name)?;
    let source = {
        let mut state = inner.state();
        let project = profiles_project(&state, req)?;
        if state
            .profiles
            .iter()
            .any(|p| p.project == project && p.name == new_name)
        {
            return Err(ApiError::conflict(format!(
                "Name {new_name:?} already in use"
            )));
        }
        let profile = state
            .profiles
            .iter_mut()
            .find(|p| p.project == project && p.name == name)
            .ok_or_else(not_found)?;
        profile.name = new_name.clone();
        let instances_project = project.clone();
        let uses_this = |p: &str| p == instances_project;
        let projects: Vec<String> = state
            .projects
            .keys()
            .filter(|p| uses_this(&state.profiles_project(p)))
            .cloned()
            .collect();
        for instance in state
            .instances
            .iter_mut()
            .filter(|i| projects.contains(&i.project))
        {
            for p in instance.profiles.iter_mut().filter(|p| p.as_str() == name) {
                *p = new_name.clone();
            }
        }
        url(&req.project(), &new_name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ProfileRenamed,
        source.clone(),
        context(&[("old_name", Value::String(name.to_string()))]),
        Some(req.requestor()),
    );
    Ok(Reply::created(source))
}

/// `DELETE /1.0/profiles/<name>`.
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    if name == "default" {
        return Err(ApiError::new(
            403,
            "The 'default' profile cannot be deleted",
        ));
    }
    let source = {
        let mut state = inner.state();
        let project = profiles_project(&state, req)?;
        let profile = state
            .profiles
            .iter()
            .find(|p| p.project == project && p.name == name)
            .ok_or_else(not_found)?;
        if !used_by(&state, profile).is_empty() {
            return Err(ApiError::bad_request("Profile is currently in use"));
        }
        state
            .profiles
            .retain(|p| !(p.project == project && p.name == name));
        url(&req.project(), name)
    };
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ProfileDeleted,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}
