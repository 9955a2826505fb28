//! Projects (`/1.0/projects`).

use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A project (`GET /1.0/projects/<name>`).
///
/// ```
/// use lxd_proto::Project;
///
/// let project: Project = serde_json::from_str(r#"{"name": "ci", "description": "",
///     "config": {"features.images": "false"}, "used_by": ["/1.0/profiles/default?project=ci"]}"#)
///     .unwrap();
/// assert_eq!(project.config["features.images"], "false");
/// assert_eq!(project.writable().config, project.config);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Configuration (`features.*`, `limits.*`, `restricted.*`, ...).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// URLs of the resources in the project.
    #[serde(deserialize_with = "nullable")]
    pub used_by: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Project {
    /// The writable part, for `PUT /1.0/projects/<name>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::Project;
    ///
    /// let project: Project = serde_json::from_str(r#"{"name": "ci", "description": "CI jobs",
    ///     "config": {"limits.instances": "10"}, "used_by": []}"#).unwrap();
    /// let mut put = project.writable();
    /// put.config.insert("limits.instances".into(), "20".into());
    /// assert_eq!(put.description, "CI jobs");
    /// // The name and `used_by` are not part of the PUT body.
    /// let body = serde_json::to_value(&put).unwrap();
    /// assert!(body.get("name").is_none() && body.get("used_by").is_none());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_put)
    pub fn writable(&self) -> ProjectPut {
        ProjectPut {
            config: self.config.clone(),
            description: self.description.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH /1.0/projects/<name>`: the writable part of [`Project`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectPut {
    /// Configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/projects`: create a project. Unset fields are not sent.
///
/// ```
/// use lxd_proto::ProjectsPost;
///
/// let request = ProjectsPost { name: "ci".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"name":"ci"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectsPost {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Configuration (LXD fills in the `features.*` defaults).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/projects/<name>`: rename a project (LXD renames only empty projects).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectPost {
    /// The new name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /1.0/projects/<name>/state`: resource usage against the project's limits (API
/// extension `project_usage`).
///
/// ```
/// use lxd_proto::ProjectState;
///
/// let state: ProjectState = serde_json::from_str(r#"{"resources": {
///     "instances": {"Limit": 10, "Usage": 4}, "cpu": {"Limit": -1, "Usage": 0}}}"#).unwrap();
/// assert_eq!(state.resources["instances"].usage, 4);
/// assert!(state.resources["cpu"].is_unlimited());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectState {
    /// Usage by resource (`instances`, `containers`, `cpu`, `memory`, `disk`, `networks`,
    /// `processes`, ...).
    #[serde(deserialize_with = "nullable")]
    pub resources: BTreeMap<String, ProjectStateResource>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Usage and limit of one resource of a project.
///
/// LXD sends these keys capitalised (`Limit`, `Usage`: the Go struct has no JSON tags);
/// lowercase keys are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectStateResource {
    /// The limit; -1 when unlimited.
    #[serde(rename = "Limit", alias = "limit")]
    pub limit: i64,
    /// Current usage.
    #[serde(rename = "Usage", alias = "usage")]
    pub usage: i64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProjectStateResource {
    /// Whether there is no limit.
    ///
    /// ```
    /// use lxd_proto::ProjectState;
    ///
    /// let state: ProjectState = serde_json::from_str(r#"{"resources": {
    ///     "memory": {"Limit": -1, "Usage": 536870912},
    ///     "instances": {"Limit": 5, "Usage": 5}}}"#).unwrap();
    /// assert!(state.resources["memory"].is_unlimited());
    /// let instances = &state.resources["instances"];
    /// assert!(!instances.is_unlimited() && instances.usage >= instances.limit);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_state_get)
    pub fn is_unlimited(&self) -> bool {
        self.limit < 0
    }
}
