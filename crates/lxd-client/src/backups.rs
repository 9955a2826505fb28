//! Backups of one instance (`/1.0/instances/<name>/backups`): make, list, rename, export
//! (streamed to an `AsyncWrite`), delete; and new instances from a backup tarball streamed
//! from an `AsyncRead`.

use bytes::Bytes;
use lxd_proto::{InstanceBackup, InstanceBackupPost, InstanceBackupsPost};
use lxd_transport::http::{HeaderName, HeaderValue, Method, header};
use lxd_transport::{Body, Timeout};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::instance_logs::{ByteStream, body_stream, copy_body, download};
use crate::instances::{Instances, instance_path};
use crate::operation::Operation;
use crate::path::{name_from_url, segment, validate_instance_name};

/// How much of a backup upload is read from the caller's reader at a time.
const UPLOAD_CHUNK: usize = 64 * 1024;

/// The backups of one instance, from [`Instances::backups`] or
/// [`InstanceObject::backups`](crate::InstanceObject::backups).
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::InstanceBackupsPost;
/// let backups = client.instances().backups("web");
/// let request = InstanceBackupsPost { name: "nightly".into(), instance_only: true, ..Default::default() };
/// backups.create(&request).await?.wait().await?;
/// let mut file = tokio::fs::File::create("/tmp/web.tar.gz").await.unwrap();
/// let bytes = backups.export_to("nightly", &mut file).await?;
/// backups.delete("nightly").await?.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InstanceBackups {
    client: Client,
    instance: String,
}

impl Instances {
    /// The backups of `instance` (the name is checked by each call).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let backups = client.instances().backups("web");
    /// // Prune: keep only the newest three.
    /// let mut all = backups.list().await?;
    /// all.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    /// for old in all.iter().skip(3) {
    ///     backups.delete(&old.name).await?.wait().await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backups_get)
    pub fn backups(&self, instance: &str) -> InstanceBackups {
        InstanceBackups {
            client: self.client.clone(),
            instance: instance.to_string(),
        }
    }
}

/// Checks a backup name as LXD does (no '/'), and that it is not empty.
fn validate_backup_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "backup name",
            format!("{name:?}: empty, '.', '..', or contains '/' or control characters"),
        ));
    }
    Ok(())
}

impl InstanceBackups {
    /// The instance whose backups these are.
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// # let client = lxd_client::Client::https("https://lxd.example:8443").build()?;
    /// let backups = client.instances().backups("web");
    /// assert_eq!(backups.instance(), "web");
    /// # Ok(()) }
    /// ```
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn collection(&self) -> Result<String> {
        Ok(format!("{}/backups", instance_path(&self.instance)?))
    }

    fn path(&self, backup: &str) -> Result<String> {
        validate_backup_name(backup)?;
        Ok(format!("{}/{}", self.collection()?, segment(backup)))
    }

    /// The backups' names.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let names = client.instances().backups("web").list_names().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backups_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        let urls: Vec<String> = self.client.get_json(&self.collection()?, &[]).await?;
        urls.iter().map(|u| name_from_url(u)).collect()
    }

    /// Every backup, in one request (`recursion=1`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for b in client.instances().backups("web").list().await? {
    ///     println!("{} expires {}", b.name, b.expires_at);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backups_get_recursion1)
    pub async fn list(&self) -> Result<Vec<InstanceBackup>> {
        self.client
            .get_json(&self.collection()?, &[("recursion", "1")])
            .await
    }

    /// One backup.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let backup = client.instances().backups("web").get("nightly").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backup_get)
    pub async fn get(&self, backup: &str) -> Result<InstanceBackup> {
        self.client.get_json(&self.path(backup)?, &[]).await
    }

    /// Makes a backup on the server (name, expiry, instance only, optimized storage,
    /// compression); an empty name lets LXD pick `backupN`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::InstanceBackupsPost;
    /// let request = InstanceBackupsPost {
    ///     name: "weekly".into(),
    ///     expires_at: "2030-01-01T00:00:00Z".into(),
    ///     optimized_storage: false,
    ///     ..Default::default()
    /// };
    /// client.instances().backups("web").create(&request).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backups_post)
    pub async fn create(&self, request: &InstanceBackupsPost) -> Result<Operation> {
        if !request.name.is_empty() {
            validate_backup_name(&request.name)?;
        }
        // Older servers would ignore it and compress as configured.
        if !request.compression_algorithm.is_empty() {
            self.client
                .require_api_extension("backup_compression_algorithm")
                .await?;
        }
        self.client
            .send_operation(Method::POST, &self.collection()?, &[], Some(request))
            .await
    }

    /// Makes a backup, waits, and returns it (the name LXD picked, if none was given).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let backup = client.instances().backups("web").create_and_wait(&Default::default()).await?;
    /// println!("{}", backup.name);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backups_post)
    pub async fn create_and_wait(&self, request: &InstanceBackupsPost) -> Result<InstanceBackup> {
        let done = self.create(request).await?.wait().await?;
        let name = if request.name.is_empty() {
            // LXD lists the new backup as `/1.0/backups/<name>` in the operation.
            let url = done.resources_of("backups").first().ok_or_else(|| {
                Error::malformed(
                    format!("operation {} ({})", done.id, done.description),
                    "no backup in the operation's resources",
                    b"",
                )
            })?;
            name_from_url(url)?
        } else {
            request.name.clone()
        };
        self.get(&name).await
    }

    /// Renames a backup.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let backups = client.instances().backups("web");
    /// backups.rename("nightly", "kept").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backup_post)
    pub async fn rename(&self, backup: &str, new_name: &str) -> Result<Operation> {
        let path = self.path(backup)?;
        validate_backup_name(new_name)?;
        let request = InstanceBackupPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .send_operation(Method::POST, &path, &[], Some(&request))
            .await
    }

    /// Deletes a backup.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().backups("web").delete("nightly").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backup_delete)
    pub async fn delete(&self, backup: &str) -> Result<Operation> {
        self.client
            .send_operation::<()>(Method::DELETE, &self.path(backup)?, &[], None)
            .await
    }

    /// The backup tarball as a stream of chunks.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::StreamExt;
    /// let mut tarball = client.instances().backups("web").export("nightly").await?;
    /// let mut size = 0;
    /// while let Some(chunk) = tarball.next().await {
    ///     size += chunk?.len();
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backup_export)
    pub async fn export(&self, backup: &str) -> Result<ByteStream> {
        let path = format!("{}/export", self.path(backup)?);
        Ok(body_stream(download(&self.client, &path).await?))
    }

    /// Writes the backup tarball to `writer` chunk by chunk (never whole in memory);
    /// returns the bytes written.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut file = tokio::fs::File::create("/tmp/web.tar.gz").await.unwrap();
    /// client.instances().backups("web").export_to("nightly", &mut file).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backup_export)
    pub async fn export_to<W>(&self, backup: &str, writer: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let path = format!("{}/export", self.path(backup)?);
        let response = download(&self.client, &path).await?;
        copy_body(
            response,
            writer,
            &format!("backup {backup} of {}", self.instance),
        )
        .await
    }
}

/// Options of [`Instances::create_from_backup`]: the new instance's name and storage pool
/// (otherwise those recorded in the backup), and the tarball's length if known.
///
/// ```
/// let options = lxd_client::BackupImport::new().name("web-restored").pool("default");
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct BackupImport {
    name: Option<String>,
    pool: Option<String>,
    length: Option<u64>,
}

impl BackupImport {
    /// Keep the name and pool recorded in the backup.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::BackupImport;
    /// // Like `lxc import web.tar.gz`: back under its own name, on its own pool.
    /// let tarball = tokio::fs::File::open("web.tar.gz").await.unwrap();
    /// client.instances().create_from_backup(tarball, &BackupImport::new()).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn new() -> Self {
        Self::default()
    }

    /// Name the new instance (API extension `backup_override_name`).
    ///
    /// Sent as the `X-LXD-name` header of the upload (`X-Incus-name` on Incus).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::BackupImport;
    /// let tarball = tokio::fs::File::open("web.tar.gz").await.unwrap();
    /// let options = BackupImport::new().name("web-restored"); // next to the original "web"
    /// client.instances().create_from_backup(tarball, &options).await?.wait().await?;
    /// assert!(client.instances().exists("web-restored").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Put the new instance on this storage pool (API extension
    /// `container_backup_override_pool`).
    ///
    /// Sent as the `X-LXD-pool` header of the upload (`X-Incus-pool` on Incus).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::BackupImport;
    /// let tarball = tokio::fs::File::open("web.tar.gz").await.unwrap();
    /// let options = BackupImport::new().name("web-ssd").pool("ssd");
    /// client.instances().create_from_backup(tarball, &options).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.pool = Some(pool.into());
        self
    }

    /// The tarball's length in bytes, sent as `Content-Length` (else the upload is
    /// chunked).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::BackupImport;
    /// let tarball = tokio::fs::File::open("web.tar.gz").await.unwrap();
    /// let length = tarball.metadata().await.unwrap().len();
    /// let options = BackupImport::new().length(length);
    /// client.instances().create_from_backup(tarball, &options).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn length(mut self, length: u64) -> Self {
        self.length = Some(length);
        self
    }
}

/// Reads `reader` in chunks as the upload proceeds.
fn reader_stream<R>(reader: R) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send
where
    R: AsyncRead + Send + 'static,
{
    futures::stream::unfold(Some(Box::pin(reader)), |state| async move {
        let mut reader = state?;
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(reader)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

impl Instances {
    /// Creates an instance from a backup tarball (as made by
    /// [`InstanceBackups::export_to`] or `lxc export`), streamed from `tarball` as the
    /// upload proceeds (never whole in memory).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::BackupImport;
    /// let file = tokio::fs::File::open("/tmp/web.tar.gz").await.unwrap();
    /// let length = file.metadata().await.unwrap().len();
    /// let options = BackupImport::new().name("web-restored").length(length);
    /// client.instances().create_from_backup(file, &options).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub async fn create_from_backup<R>(
        &self,
        tarball: R,
        options: &BackupImport,
    ) -> Result<Operation>
    where
        R: AsyncRead + Send + 'static,
    {
        let mut headers = Vec::new();
        let prefix = if options.name.is_some() || options.pool.is_some() {
            // `X-LXD-name` / `X-Incus-name`: the flavor knows the prefix.
            self.client.flavor().await?.header_prefix()
        } else {
            ""
        };
        // A server without these extensions ignores the headers and restores under the
        // backup's own name and pool: refuse instead.
        if let Some(name) = &options.name {
            validate_instance_name(name)?;
            self.client
                .require_api_extension("backup_override_name")
                .await?;
            headers.push((format!("{prefix}name"), name.as_str()));
        }
        if let Some(pool) = &options.pool {
            if pool.is_empty() || pool.contains('/') {
                return Err(Error::invalid(
                    "storage pool name",
                    format!("{pool:?}: empty or contains '/'"),
                ));
            }
            self.client
                .require_api_extension("container_backup_override_pool")
                .await?;
            headers.push((format!("{prefix}pool"), pool.as_str()));
        }
        let mut request = self
            .client
            .request(Method::POST, "/1.0/instances", &[])
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )
            .body(Body::stream(reader_stream(tarball), options.length))
            .timeout(Timeout::None);
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::invalid("header name", e.to_string()))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| Error::invalid("header value", e.to_string()))?;
            request = request.header(name, value);
        }
        let reply = self.client.execute(request).await?;
        Operation::from_reply(
            self.client.clone(),
            "POST /1.0/instances (backup)",
            reply.envelope,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[test]
    fn backup_names_and_paths() {
        let client = crate::instances::offline_client();
        let backups = client.instances().backups("c1");
        assert_eq!(
            backups.path("backup0").unwrap(),
            "/1.0/instances/c1/backups/backup0"
        );
        for bad in ["", "a/b", ".", ".."] {
            assert!(backups.path(bad).unwrap_err().is_invalid_input(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn uploads_are_read_in_chunks() {
        let data: Vec<u8> = (0..(UPLOAD_CHUNK * 2 + 10)).map(|i| i as u8).collect();
        let chunks: Vec<Bytes> = reader_stream(std::io::Cursor::new(data.clone()))
            .try_collect()
            .await
            .unwrap();
        assert!(chunks.len() >= 3, "{}", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= UPLOAD_CHUNK));
        assert_eq!(chunks.concat(), data);
    }
}
