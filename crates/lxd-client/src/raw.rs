//! The escape hatch: any endpoint, any method, JSON or streamed bodies.

use lxd_transport::http::{HeaderName, HeaderValue, Method};
use lxd_transport::{Body, Request, Timeout};
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::operation::Operation;

/// A request to any LXD endpoint, built by [`Client::raw`]. The client's project is added
/// unless the query names one or [`RawRequest::without_project`] is called.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::Method;
/// // A JSON call answered synchronously:
/// let reply = client.raw(Method::GET, "/1.0/instances").query("recursion", "1").send().await?;
/// // One answered with an operation:
/// let op = client
///     .raw(Method::PUT, "/1.0/instances/c1/state")
///     .json(&serde_json::json!({"action": "stop", "timeout": 30}))?
///     .operation()
///     .await?;
/// op.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct RawRequest {
    client: Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
    project: bool,
    timeout: Timeout,
}

impl RawRequest {
    pub(crate) fn new(client: Client, method: Method, path: String) -> RawRequest {
        RawRequest {
            client,
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            project: true,
            timeout: Timeout::Default,
        }
    }

    /// Adds a query parameter.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::Method;
    /// let reply = client
    ///     .raw(Method::GET, "/1.0/instances")
    ///     .query("recursion", "1")
    ///     .query("filter", "status eq Running")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get_recursion) (the endpoint of this example; `raw` reaches any)
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::Method;
    /// use lxd_client::transport::http::{HeaderValue, header};
    /// # let put = serde_json::json!({});
    /// let reply = client
    ///     .raw(Method::PUT, "/1.0/profiles/default")
    ///     .header(header::IF_MATCH, HeaderValue::from_static("\"8cb40dbe\""))
    ///     .json(&put)?
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_put) (the endpoint of this example; `raw` reaches any)
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sends `body` as JSON.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::Method;
    /// let reply = client
    ///     .raw(Method::PATCH, "/1.0/instances/web")
    ///     .json(&serde_json::json!({"config": {"limits.cpu": "2"}}))?
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_patch) (the endpoint of this example; `raw` reaches any)
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| Error::invalid("request body", e.to_string()))?;
        self.headers.push((
            lxd_transport::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        self.body = Body::Bytes(bytes.into());
        Ok(self)
    }

    /// Sends this body (bytes or a stream).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::Method;
    /// use lxd_client::transport::Body;
    /// let reply = client
    ///     .raw(Method::POST, "/1.0/instances/web/files")
    ///     .query("path", "/etc/motd")
    ///     .body(Body::Bytes("Welcome to web\n".into()))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post) (the endpoint of this example; `raw` reaches any)
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Does not add the client's project.
    ///
    /// Leaves out the `project` query parameter.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::Method;
    /// let ci = client.with_project("ci")?;
    /// // Once, the default project's instances, from a client bound to `ci`:
    /// let reply = ci.raw(Method::GET, "/1.0/instances").without_project().send().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get) (the endpoint of this example; `raw` reaches any)
    pub fn without_project(mut self) -> Self {
        self.project = false;
        self
    }

    /// Sets this request's timeout.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use std::time::Duration;
    /// use lxd_client::{Method, transport::Timeout};
    /// let reply = client
    ///     .raw(Method::GET, "/1.0/resources")
    ///     .timeout(Timeout::After(Duration::from_secs(5)))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/resources_get) (the endpoint of this example; `raw` reaches any)
    pub fn timeout(mut self, timeout: Timeout) -> Self {
        self.timeout = timeout;
        self
    }

    fn build(self) -> (Client, Request) {
        let pairs: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let client = if self.project {
            self.client.clone()
        } else {
            self.client.without_project()
        };
        let mut request = client
            .request(self.method, &self.path, &pairs)
            .body(self.body)
            .timeout(self.timeout);
        for (k, v) in self.headers {
            request = request.header(k, v);
        }
        (client, request)
    }

    /// Sends and decodes LXD's envelope; LXD errors become [`Error::Api`].
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let reply = client.raw(lxd_client::Method::GET, "/1.0/resources").send().await?;
    /// println!("{}", reply.metadata["cpu"]["total"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/resources_get)
    pub async fn send(self) -> Result<lxd_proto::Response> {
        let (client, request) = self.build();
        Ok(client.execute(request).await?.envelope)
    }

    /// Sends a request LXD answers with an operation, and returns its handle.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let op = client
    ///     .raw(lxd_client::Method::PUT, "/1.0/instances/web/state")
    ///     .json(&serde_json::json!({"action": "restart", "timeout": 30}))?
    ///     .operation()
    ///     .await?;
    /// op.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn operation(self) -> Result<Operation> {
        let context = format!("{} {}", self.method, self.path);
        let (client, request) = self.build();
        let envelope = client.execute(request).await?.envelope;
        Operation::from_reply(client, &context, envelope)
    }

    /// Sends and returns the undecoded response, for streamed bodies (file and image
    /// downloads). The status is not judged.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let response = client
    ///     .raw(lxd_client::Method::GET, "/1.0/instances/web/files")
    ///     .query("path", "/etc/hostname")
    ///     .send_streaming()
    ///     .await?;
    /// println!("{}", response.status());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub async fn send_streaming(self) -> Result<lxd_transport::Response> {
        let (client, request) = self.build();
        Ok(client.transport().send(request).await?)
    }
}

impl Client {
    /// This client without a project (requests go to the server's default).
    pub(crate) fn without_project(&self) -> Client {
        let mut c = self.clone();
        c.clear_project();
        c
    }
}
