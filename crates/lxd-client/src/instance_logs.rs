//! An instance's log files (`/1.0/instances/<name>/logs`) and console log
//! (`/1.0/instances/<name>/console`), streamed; plus the raw-body download helpers the
//! backup export shares.

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use lxd_transport::Timeout;
use lxd_transport::http::Method;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::instances::{Instances, instance_path};
use crate::path::{name_from_url, segment};

/// A body streamed from the server in chunks as they arrive; a cut connection ends it with an
/// error, never with a silent early end.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// `GET path` whose successful answer is a raw body (a file, a log, a tarball). LXD's error
/// envelope becomes [`Error::Api`]. No request timeout: transfers last what they last.
pub(crate) async fn download(client: &Client, path: &str) -> Result<lxd_transport::Response> {
    let request = client
        .request(Method::GET, path, &[])
        .timeout(Timeout::None);
    client.send_raw(request).await
}

/// The body as a [`ByteStream`].
pub(crate) fn body_stream(response: lxd_transport::Response) -> ByteStream {
    response
        .into_stream()
        .map(|r| r.map_err(Error::from))
        .boxed()
}

/// Writes the body to `writer` chunk by chunk (never whole in memory), flushes, and returns
/// the number of bytes written.
pub(crate) async fn copy_body<W>(
    mut response: lxd_transport::Response,
    writer: &mut W,
    context: &str,
) -> Result<u64>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await? {
        writer
            .write_all(&chunk)
            .await
            .map_err(|e| Error::io(format!("writing {context}"), e))?;
        written += chunk.len() as u64;
    }
    writer
        .flush()
        .await
        .map_err(|e| Error::io(format!("writing {context}"), e))?;
    Ok(written)
}

/// The log files and console log of one instance, from [`Instances::logs`] or
/// [`InstanceObject::logs`](crate::InstanceObject::logs).
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let logs = client.instances().logs("web");
/// for file in logs.list().await? {
///     let mut out = Vec::new();
///     logs.get_to(&file, &mut out).await?;
///     println!("{file}: {} bytes", out.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InstanceLogs {
    client: Client,
    instance: String,
}

impl Instances {
    /// The log files and console log of `instance` (the name is checked by each call).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let logs = client.instances().logs("web");
    /// let mut lxc_log = Vec::new();
    /// logs.get_to("lxc.log", &mut lxc_log).await?;
    /// println!("{}", String::from_utf8_lossy(&lxc_log));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_logs_get)
    pub fn logs(&self, instance: &str) -> InstanceLogs {
        InstanceLogs {
            client: self.client.clone(),
            instance: instance.to_string(),
        }
    }
}

/// Checks a log file name: one path segment (LXD then decides which names it serves:
/// `lxc.log`, `lxc.conf`, `exec_*`, `migration_*`, `snapshot_*`, ...).
fn validate_log_name(file: &str) -> Result<()> {
    if file.is_empty()
        || file == "."
        || file == ".."
        || file.contains('/')
        || file.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "log file name",
            format!("{file:?}: must be one file name"),
        ));
    }
    Ok(())
}

/// Whether `file` is recorded exec output (`exec_<id>.stdout` or `.stderr`).
fn is_exec_output(file: &str) -> bool {
    file.starts_with("exec_") && (file.ends_with(".stdout") || file.ends_with(".stderr"))
}

/// Whether a listed URL names recorded exec output.
fn url_is_exec_output(url: &str) -> bool {
    url.rsplit('/').next().is_some_and(is_exec_output)
}

/// Whether the server refused a log path as not being there: 404, or 400 (LXD 5.0 takes
/// `logs/exec-output` for a log file's name and refuses the name).
fn is_absent(e: &Error) -> bool {
    matches!(
        e,
        Error::Api {
            status: 404 | 400,
            ..
        }
    )
}

impl InstanceLogs {
    /// The instance whose logs these are.
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::Client::https("https://lxd.example.com:8443").build()?;
    /// let logs = client.instances().logs("web");
    /// assert_eq!(logs.instance(), "web");
    /// # Ok(()) }
    /// ```
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The URLs where `file` may live, most likely first. Recorded exec output
    /// (`exec_<id>.stdout|stderr`) lives under `logs/exec-output/` on Incus and on LXD since
    /// 5.15 (no API extension says so), among the logs on LXD 5.0: the server's answer
    /// decides (see [`first_found`](Self::first_found)).
    fn paths(&self, file: &str) -> Result<Vec<String>> {
        validate_log_name(file)?;
        let base = instance_path(&self.instance)?;
        let name = segment(file);
        let mut paths = Vec::with_capacity(2);
        if is_exec_output(file) {
            paths.push(format!("{base}/logs/exec-output/{name}"));
        }
        paths.push(format!("{base}/logs/{name}"));
        Ok(paths)
    }

    /// Runs `step` on each of `file`'s [`paths`](Self::paths) until one is not refused as
    /// absent. A server that does not keep the file there answers 404 (no such route or
    /// file) or, LXD 5.0 for `logs/exec-output`, 400 (not a log file name); when every place
    /// refuses, the first refusal is the answer.
    async fn first_found<T, F, Fut>(&self, file: &str, step: F) -> Result<T>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut first_refusal = None;
        for path in self.paths(file)? {
            match step(path).await {
                Err(e) if is_absent(&e) => {
                    first_refusal.get_or_insert(e);
                }
                other => return other,
            }
        }
        Err(first_refusal.expect("at least one path"))
    }

    /// The names of the instance's log files (`lxc.log`, `lxc.conf`, recorded exec output,
    /// ...).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for file in client.instances().logs("web").list().await? {
    ///     println!("{file}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_logs_get)
    pub async fn list(&self) -> Result<Vec<String>> {
        let base = instance_path(&self.instance)?;
        let mut urls: Vec<String> = self.client.get_json(&format!("{base}/logs"), &[]).await?;
        // LXD 5.0 lists recorded exec output among the logs; Incus and later LXD keep it
        // apart, under `logs/exec-output` (404 until the first recorded exec; LXD 5.0 says
        // 400 there). A listing that already has exec output needs no second request.
        if !urls.iter().any(|u| url_is_exec_output(u)) {
            match self
                .client
                .get_json::<Vec<String>>(&format!("{base}/logs/exec-output"), &[])
                .await
            {
                Ok(more) => urls.extend(more),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(e),
            }
        }
        urls.iter().map(|u| name_from_url(u)).collect()
    }

    /// A log file as a stream of chunks.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::StreamExt;
    /// let mut log = client.instances().logs("web").get("lxc.log").await?;
    /// while let Some(chunk) = log.next().await {
    ///     print!("{}", String::from_utf8_lossy(&chunk?));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_get)
    pub async fn get(&self, file: &str) -> Result<ByteStream> {
        let response = self
            .first_found(
                file,
                |path| async move { download(&self.client, &path).await },
            )
            .await?;
        Ok(body_stream(response))
    }

    /// Writes a log file to `writer` chunk by chunk; returns the bytes written.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut file = tokio::fs::File::create("/tmp/web-lxc.log").await.unwrap();
    /// let bytes = client.instances().logs("web").get_to("lxc.log", &mut file).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_get)
    pub async fn get_to<W>(&self, file: &str, writer: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let response = self
            .first_found(
                file,
                |path| async move { download(&self.client, &path).await },
            )
            .await?;
        copy_body(
            response,
            writer,
            &format!("log {file} of {}", self.instance),
        )
        .await
    }

    /// Deletes a log file (LXD refuses `lxc.log` and `lxc.conf`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let logs = client.instances().logs("web");
    /// for file in logs.list().await? {
    ///     if file.starts_with("exec_") {
    ///         logs.delete(&file).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_delete)
    pub async fn delete(&self, file: &str) -> Result<()> {
        self.first_found(file, |path| async move {
            self.client
                .write::<()>(Method::DELETE, &path, &[], None)
                .await
        })
        .await
    }

    fn console_path(&self) -> Result<String> {
        Ok(format!("{}/console", instance_path(&self.instance)?))
    }

    /// Opens the console log, mapping LXD 5.0's answer for an empty console buffer to an
    /// empty body (`None`).
    async fn console_response(&self) -> Result<Option<lxd_transport::Response>> {
        match download(&self.client, &self.console_path()?).await {
            Ok(response) => Ok(Some(response)),
            // LXD 5.0.2 means to send an empty file when a running container's console buffer
            // is empty (after a clear), but sends an entry without a path, which fails as
            // HTTP 500 "open : no such file or directory".
            Err(Error::Api {
                status: 500,
                message,
                ..
            }) if message == "open : no such file or directory" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The console log (what the instance wrote to its console) as a stream of chunks.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::TryStreamExt;
    /// let chunks: Vec<_> = client.instances().logs("web").console().await?.try_collect().await?;
    /// println!("{}", String::from_utf8_lossy(&chunks.concat()));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_get)
    pub async fn console(&self) -> Result<ByteStream> {
        Ok(match self.console_response().await? {
            Some(response) => body_stream(response),
            None => futures::stream::empty().boxed(),
        })
    }

    /// Writes the console log to `writer` chunk by chunk; returns the bytes written.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut out = Vec::new();
    /// client.instances().logs("web").console_to(&mut out).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_get)
    pub async fn console_to<W>(&self, writer: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        match self.console_response().await? {
            Some(response) => {
                copy_body(
                    response,
                    writer,
                    &format!("console log of {}", self.instance),
                )
                .await
            }
            None => Ok(0),
        }
    }

    /// Empties the console log.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().logs("web").clear_console().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_delete)
    pub async fn clear_console(&self) -> Result<()> {
        self.client
            .write::<()>(Method::DELETE, &self.console_path()?, &[], None)
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_names_and_paths() {
        let client = crate::instances::offline_client();
        let logs = client.instances().logs("c1");
        assert_eq!(
            logs.paths("exec_1.stdout").unwrap(),
            [
                "/1.0/instances/c1/logs/exec-output/exec_1.stdout",
                "/1.0/instances/c1/logs/exec_1.stdout"
            ]
        );
        assert_eq!(
            logs.paths("lxc.log").unwrap(),
            ["/1.0/instances/c1/logs/lxc.log"]
        );
        for bad in ["", ".", "..", "../lxc.log", "a\0b"] {
            assert!(logs.paths(bad).unwrap_err().is_invalid_input(), "{bad:?}");
        }
        assert!(super::url_is_exec_output(
            "/1.0/instances/c1/logs/exec_9.stderr"
        ));
        assert!(!super::url_is_exec_output("/1.0/instances/c1/logs/lxc.log"));
        assert_eq!(logs.console_path().unwrap(), "/1.0/instances/c1/console");
    }
}
