//! The requests every collection of named objects answers (`/1.0/profiles`, `/1.0/networks`,
//! `/1.0/storage-pools`, ...): list, get, create, update, patch, rename, delete.
//!
//! Each manager keeps its own typed methods (and their docs) and sends them through a
//! [`Collection`], so the name is checked before any request and each request's shape is
//! written once. Every write returns once the server has done it: a server that answers
//! with an operation (LXD 6.8 does for networks, ACLs and storage pools) is waited for, and
//! the operation's failure is the caller's error.

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::{Result, found};
use crate::etag::{ETag, Versioned};
use crate::operation::Operation;
use crate::path::{names_from_urls, segment};

/// Where a collection lives and the rule its names follow; a manager file holds one as a
/// `const` (its free `*_path` helpers use it too).
pub(crate) struct CollectionPath {
    base: &'static str,
    validate: fn(&str) -> Result<()>,
    /// The API extension the collection came with, checked before its requests.
    extension: Option<&'static str>,
}

impl CollectionPath {
    /// The collection at `base` (`/1.0/profiles`) whose names `validate` checks.
    pub(crate) const fn new(base: &'static str, validate: fn(&str) -> Result<()>) -> Self {
        CollectionPath {
            base,
            validate,
            extension: None,
        }
    }

    /// The same, for servers with API extension `extension` (others get
    /// [`Error::MissingExtension`](crate::Error::MissingExtension) before any request).
    pub(crate) const fn with_extension(self, extension: &'static str) -> Self {
        CollectionPath {
            extension: Some(extension),
            ..self
        }
    }

    /// The URL of one object, after checking its name.
    pub(crate) fn path(&self, name: &str) -> Result<String> {
        (self.validate)(name)?;
        Ok(format!("{}/{}", self.base, segment(name)))
    }

    /// The requests of this collection, sent by `client`.
    pub(crate) fn on<'a>(&'static self, client: &'a Client) -> Collection<'a> {
        Collection { client, at: self }
    }
}

/// A [`CollectionPath`] with the client that sends its requests.
pub(crate) struct Collection<'a> {
    client: &'a Client,
    at: &'static CollectionPath,
}

impl Collection<'_> {
    /// The URL of one object, after checking its name.
    pub(crate) fn path(&self, name: &str) -> Result<String> {
        self.at.path(name)
    }

    /// The URL of one object once its name is checked and the server has the extension.
    async fn checked_path(&self, name: &str) -> Result<String> {
        let path = self.path(name)?;
        self.require_extension().await?;
        Ok(path)
    }

    async fn require_extension(&self) -> Result<()> {
        match self.at.extension {
            Some(extension) => self.client.require_api_extension(extension).await,
            None => Ok(()),
        }
    }

    /// The names, from the URL list.
    pub(crate) async fn names(&self) -> Result<Vec<String>> {
        self.require_extension().await?;
        let urls: Vec<String> = self.client.get_list(self.at.base, &[]).await?;
        names_from_urls(&urls)
    }

    /// Every object, in one request.
    pub(crate) async fn list<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.require_extension().await?;
        self.client
            .get_list(self.at.base, &[("recursion", "1")])
            .await
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.client
            .get_json(&self.checked_path(name).await?, &[])
            .await
    }

    pub(crate) async fn get_versioned<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Versioned<T>> {
        self.client
            .get_versioned(&self.checked_path(name).await?, &[])
            .await
    }

    /// Whether the object exists (a 404 is `false`, any other error is an error).
    pub(crate) async fn exists(&self, name: &str) -> Result<bool> {
        found(self.get::<IgnoredAny>(name).await)
    }

    /// `POST` to the collection; `name` is the new object's (checked first).
    pub(crate) async fn create<B: Serialize + ?Sized>(&self, name: &str, body: &B) -> Result<()> {
        (self.at.validate)(name)?;
        self.require_extension().await?;
        self.client
            .write(Method::POST, self.at.base, &[], Some(body))
            .await
    }

    /// `PUT`, guarded by `etag` when given.
    pub(crate) async fn update<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.client
            .write_if_match(
                Method::PUT,
                &self.checked_path(name).await?,
                &[],
                body,
                etag,
            )
            .await
    }

    /// `PATCH`, guarded by `etag` when given.
    pub(crate) async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.client
            .write_patch(&self.checked_path(name).await?, &[], body, etag)
            .await
    }

    /// `POST` to the object with its new name in `body` (both names checked first).
    pub(crate) async fn rename<B: Serialize + ?Sized>(
        &self,
        name: &str,
        new_name: &str,
        body: &B,
    ) -> Result<()> {
        (self.at.validate)(new_name)?;
        let path = self.checked_path(name).await?;
        self.client
            .write(Method::POST, &path, &[], Some(body))
            .await
    }

    /// [`rename`](Self::rename) where the server answers with an operation.
    pub(crate) async fn rename_operation<B: Serialize + ?Sized>(
        &self,
        name: &str,
        new_name: &str,
        body: &B,
    ) -> Result<Operation> {
        (self.at.validate)(new_name)?;
        let path = self.checked_path(name).await?;
        self.client
            .send_operation(Method::POST, &path, &[], Some(body))
            .await
    }

    pub(crate) async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .write::<()>(Method::DELETE, &self.checked_path(name).await?, &[], None)
            .await
    }
}
