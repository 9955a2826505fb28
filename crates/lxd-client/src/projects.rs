//! Projects (`/1.0/projects`): separate sets of instances, images, profiles, volumes and
//! networks on one server. The manager is server-wide; [`Client::with_project`] gives a
//! client whose every manager (websockets included) works inside one project.

use lxd_proto::{Project, ProjectPost, ProjectPut, ProjectState, ProjectsPost};
use serde::Serialize;
use serde_json::Value;

use crate::client::Client;
use crate::collection::{Collection, CollectionPath};
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::operation::Operation;
use crate::path::validate_project_name;

/// The projects manager, from [`Client::projects`]. Projects are server-wide: these calls
/// ignore the client's own project.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::ProjectsPost;
/// client.projects().create(&ProjectsPost { name: "dev".into(), ..Default::default() }).await?;
/// let dev = client.with_project("dev")?;
/// assert!(dev.instances().list_names().await?.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Projects {
    client: Client,
}

impl Client {
    /// The projects manager.
    ///
    /// It manages `/1.0/projects`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // Server-wide: the same list whatever the client's project.
    /// let dev = client.with_project("dev")?;
    /// assert_eq!(dev.projects().list_names().await?, client.projects().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/projects_get)
    pub fn projects(&self) -> Projects {
        Projects {
            client: self.without_project(),
        }
    }
}

/// `/1.0/projects`: names checked by [`validate_project_name`].
const PROJECTS: CollectionPath = CollectionPath::new("/1.0/projects", validate_project_name);

fn project_path(name: &str) -> Result<String> {
    PROJECTS.path(name)
}

impl Projects {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        PROJECTS.on(&self.client)
    }

    /// The names of every project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.projects().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/projects_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.collection().names().await
    }

    /// Every project, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for p in client.projects().list().await? {
    ///     println!("{}: {:?}", p.name, p.config.get("features.images"));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/projects_get_recursion1)
    pub async fn list(&self) -> Result<Vec<Project>> {
        self.collection().list().await
    }

    /// One project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let p = client.projects().get("default").await?;
    /// println!("{} objects", p.used_by.len());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_get)
    pub async fn get(&self, name: &str) -> Result<Project> {
        self.collection().get(name).await
    }

    /// One project with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let projects = client.projects();
    /// let p = projects.get_with_etag("dev").await?;
    /// let mut put = p.writable();
    /// put.config.insert("limits.instances".into(), "5".into());
    /// projects.update("dev", &put, p.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<Project>> {
        self.collection().get_versioned(name).await
    }

    /// Whether the project exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.projects().exists("dev").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        self.collection().exists(name).await
    }

    /// Creates a project. Without `features.*` in `config`, LXD 5.0 gives it its own images,
    /// profiles (an empty `default` profile: add a root disk before creating instances) and
    /// storage volumes.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::ProjectsPost;
    /// client
    ///     .projects()
    ///     .create(&ProjectsPost {
    ///         name: "ci".into(),
    ///         config: [("features.images".into(), "false".into())].into(),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/projects_post)
    pub async fn create(&self, request: &ProjectsPost) -> Result<()> {
        self.collection().create(&request.name, request).await
    }

    /// Replaces the project's writable fields (`PUT`), optionally only if unchanged since
    /// `etag`. LXD refuses to change `features.*` of a project that is in use.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let projects = client.projects();
    /// let mut put = projects.get("dev").await?.writable();
    /// put.description = "developers".into();
    /// projects.update("dev", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_put)
    pub async fn update(&self, name: &str, put: &ProjectPut, etag: Option<&ETag>) -> Result<()> {
        self.collection().update(name, put, etag).await
    }

    /// Changes only what `body` names (`PATCH`, a JSON object): config keys in `body` are
    /// set, the others kept; a missing `description` is kept. Optionally only if unchanged
    /// since `etag`.
    ///
    /// LXD before 5.0.4 (and 6.2) drops every config key a PATCH does not name, `features.*`
    /// included. So when `body` has a `config`, the client reads the project first and sends
    /// its other keys along, with `If-Match` (`etag`, else the one just read): a concurrent
    /// change then fails with [`Error::is_precondition_failed`](crate::Error::is_precondition_failed)
    /// instead of being lost.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"config": {"limits.containers": "10"}});
    /// client.projects().patch("dev", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = project_path(name)?;
        let mut body =
            serde_json::to_value(body).map_err(|e| Error::invalid("PATCH body", e.to_string()))?;
        let mut read_etag = None;
        if let Some(Value::Object(config)) = body.get_mut("config") {
            let current: Versioned<Project> = self.client.get_versioned(&path, &[]).await?;
            for (key, value) in current.value.config {
                config.entry(key).or_insert(Value::String(value));
            }
            read_etag = current.etag;
        }
        self.client
            .write_patch(&path, &[], &body, etag.or(read_etag.as_ref()))
            .await
    }

    /// Renames a project; LXD does it in an operation, and only for an empty project (and
    /// never for `default`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.projects().rename("dev", "development").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<Operation> {
        let body = ProjectPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.collection()
            .rename_operation(name, new_name, &body)
            .await
    }

    /// Deletes an (empty) project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.projects().delete("development").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_delete)
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.collection().delete(name).await
    }

    /// Usage against the project's limits (API extension `project_usage`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let state = client.projects().state("default").await?;
    /// for (resource, r) in &state.resources {
    ///     println!("{resource}: {} of {}", r.usage, if r.is_unlimited() { "unlimited".into() } else { r.limit.to_string() });
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/project_state_get)
    pub async fn state(&self, name: &str) -> Result<ProjectState> {
        let path = format!("{}/state", project_path(name)?);
        self.client.require_api_extension("project_usage").await?;
        self.client.get_json(&path, &[]).await
    }
}
