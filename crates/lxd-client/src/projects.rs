//! Projects: the core calls. The projects issue grows this (update, rename, ETags).

use lxd_proto::{Project, ProjectsPost};
use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::Result;
use crate::path::{name_from_url, segment, validate_project_name};

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
    pub fn projects(&self) -> Projects {
        Projects {
            client: self.without_project(),
        }
    }
}

fn project_path(name: &str) -> Result<String> {
    validate_project_name(name)?;
    Ok(format!("/1.0/projects/{}", segment(name)))
}

impl Projects {
    /// The names of every project.
    pub async fn list_names(&self) -> Result<Vec<String>> {
        let urls: Vec<String> = self.client.get_json("/1.0/projects", &[]).await?;
        urls.iter().map(|u| name_from_url(u)).collect()
    }

    /// One project.
    pub async fn get(&self, name: &str) -> Result<Project> {
        self.client.get_json(&project_path(name)?, &[]).await
    }

    /// Creates a project.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/projects/projects_post)
    pub async fn create(&self, request: &ProjectsPost) -> Result<()> {
        validate_project_name(&request.name)?;
        self.client
            .send(Method::POST, "/1.0/projects", &[], Some(request))
            .await?;
        Ok(())
    }

    /// Deletes an (empty) project.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .send::<()>(Method::DELETE, &project_path(name)?, &[], None)
            .await?;
        Ok(())
    }
}
