//! ETags: the version of an object as the server last showed it, so a change can say "only
//! if nobody changed it since" (`If-Match`) and fail with 412 instead of overwriting.
//!
//! Every manager has the same shape: `get_with_etag(..) -> Versioned<T>`, then
//! `update(.., &put, Some(&etag))` (PUT) or `patch(.., &body, Some(&etag))` (PATCH); `None`
//! changes unconditionally. A mismatch is [`Error::is_precondition_failed`].

use std::fmt;
use std::ops::{Deref, DerefMut};

use lxd_transport::http::{HeaderValue, Method, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Client, Reply, decode_metadata};
use crate::error::{Error, Result};

/// An entity tag, as the server sent it in the `ETag` header of a `GET`.
///
/// ```
/// let etag = lxd_client::ETag::new("\"8cb40dbe\"");
/// assert_eq!(etag.as_str(), "\"8cb40dbe\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// An ETag from its header value (kept verbatim, quotes included).
    ///
    /// ```
    /// use lxd_client::ETag;
    /// // An ETag kept from an earlier read (in a file, a database, ...):
    /// let stored = String::from("\"5cf1c8b3\"");
    /// let etag = ETag::new(stored);
    /// assert_eq!(etag, ETag::new("\"5cf1c8b3\""));
    /// ```
    pub fn new(value: impl Into<String>) -> ETag {
        ETag(value.into())
    }

    /// The header value.
    ///
    /// ```
    /// let etag = lxd_client::ETag::new("W/\"8cb40dbe\"");
    /// assert_eq!(etag.as_str(), "W/\"8cb40dbe\""); // the weak prefix and quotes are kept
    /// assert_eq!(etag.as_str(), etag.to_string());
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object together with the ETag it was read with.
///
/// `etag` is `None` when the server sent none (LXD 5.0.2 sends none for storage pools and
/// warnings); a change with `None` is unconditional. Derefs to the object.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let profiles = client.profiles();
/// let current = profiles.get_with_etag("default").await?;
/// let mut put = current.writable();
/// put.description = "edited".into();
/// match profiles.update("default", &put, current.etag.as_ref()).await {
///     Ok(()) => {}
///     Err(e) if e.is_precondition_failed() => println!("changed meanwhile; read it again"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The object.
    pub value: T,
    /// Its version, for `If-Match`.
    pub etag: Option<ETag>,
}

impl<T> Versioned<T> {
    /// The object, without its version.
    ///
    /// ```
    /// use lxd_client::proto::Profile;
    /// use lxd_client::{ETag, Versioned};
    /// let read = Versioned {
    ///     value: Profile { name: "default".into(), ..Default::default() },
    ///     etag: Some(ETag::new("\"1\"")),
    /// };
    /// let profile: Profile = read.into_inner();
    /// assert_eq!(profile.name, "default");
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Versioned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Versioned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl Client {
    /// `GET` an object and keep its ETag.
    pub(crate) async fn get_versioned<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Versioned<T>> {
        let reply = self.send::<()>(Method::GET, path, query, None).await?;
        let etag = reply.etag().map(ETag);
        let value = decode_metadata(&format!("GET {path}"), reply.envelope)?;
        Ok(Versioned { value, etag })
    }

    /// Sends a JSON body with `If-Match: etag` when an ETag is given.
    pub(crate) async fn send_if_match<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<Reply> {
        let json =
            serde_json::to_vec(body).map_err(|e| Error::invalid("request body", e.to_string()))?;
        let mut request = self.request(method, path, query).json(json);
        if let Some(etag) = etag {
            let value = HeaderValue::from_str(etag.as_str()).map_err(|_| {
                Error::invalid("ETag", format!("{:?} is not a header value", etag.0))
            })?;
            request = request.header(header::IF_MATCH, value);
        }
        self.execute(request).await
    }

    /// [`send_if_match`](Self::send_if_match), then [`settle`](Self::settle): returns once
    /// the server has done the write, whether it answered sync or with an operation.
    pub(crate) async fn write_if_match<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let context = format!("{method} {path}");
        let reply = self.send_if_match(method, path, query, body, etag).await?;
        self.settle(&context, reply).await
    }

    /// [`send_patch`](Self::send_patch), then [`settle`](Self::settle).
    pub(crate) async fn write_patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let reply = self.send_patch(path, query, body, etag).await?;
        self.settle(&format!("PATCH {path}"), reply).await
    }

    /// `PATCH` with `If-Match` when an ETag is given; `body` must be a JSON object (checked
    /// before anything is sent).
    pub(crate) async fn send_patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<Reply> {
        let value =
            serde_json::to_value(body).map_err(|e| Error::invalid("PATCH body", e.to_string()))?;
        if !value.is_object() {
            return Err(Error::invalid(
                "PATCH body",
                format!("must be a JSON object, not {value}"),
            ));
        }
        self.send_if_match(Method::PATCH, path, query, &value, etag)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_derefs_to_the_value() {
        let mut v = Versioned {
            value: String::from("x"),
            etag: Some(ETag::new("\"1\"")),
        };
        v.push('y');
        assert_eq!(v.len(), 2);
        assert_eq!(v.etag.as_ref().unwrap().to_string(), "\"1\"");
        assert_eq!(v.into_inner(), "xy");
    }
}
