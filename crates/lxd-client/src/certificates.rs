//! The trust store (`/1.0/certificates`): trusted client certificates, and the join tokens
//! (certificate add tokens) that let a new client trust itself. Server-wide: these calls
//! ignore the client's project.

use lxd_proto::{
    Certificate, CertificateAddToken, CertificatePut, CertificateType, CertificatesPost,
    OperationClass, StatusCode,
};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::collection::{Collection, CollectionPath};
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::path::validate_hex_key;

/// The certificates manager, from [`Client::certificates`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::CertificatesPost;
/// let certificates = client.certificates();
/// // Trust a certificate we hold (PEM is converted to what LXD takes):
/// certificates
///     .add(&CertificatesPost {
///         name: "ci".into(),
///         certificate: std::fs::read_to_string("ci.crt").unwrap(),
///         restricted: true,
///         projects: vec!["ci".into()],
///         ..Default::default()
///     })
///     .await?;
/// // Or hand out a join token the new client uses itself:
/// let token = certificates.create_token("laptop").await?;
/// println!("lxc remote add myserver {}", token.encoded());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Certificates {
    client: Client,
}

impl Client {
    /// The certificates (trust store) manager.
    ///
    /// It manages `/1.0/certificates`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let certificates = client.certificates();
    /// for c in certificates.list().await? {
    ///     println!("{} {} restricted: {}", &c.fingerprint[..12], c.name, c.restricted);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_get)
    pub fn certificates(&self) -> Certificates {
        Certificates {
            client: self.without_project(),
        }
    }
}

/// A pending join token: the token and the id of the `token` operation that holds it on the
/// server (cancelling that operation revokes the token).
#[derive(Debug, Clone, PartialEq)]
pub struct TrustToken {
    /// The id of the server's token operation.
    pub operation_id: String,
    /// The token (its `Debug` hides the secret).
    pub token: CertificateAddToken,
}

impl TrustToken {
    /// The token as users paste it (`lxc remote add <name> <token>`,
    /// [`Client::authenticate`]).
    ///
    /// ```
    /// use lxd_client::{TrustToken, proto::CertificateAddToken};
    /// let pending = TrustToken {
    ///     operation_id: "0c3a6b1e-2f59-4f7e-9a0e-5d1c3b2a4f60".into(),
    ///     token: CertificateAddToken { client_name: "laptop".into(), secret: "s3cret".into(), ..Default::default() },
    /// };
    /// let encoded = pending.encoded(); // base64 of the token's JSON
    /// assert_eq!(CertificateAddToken::decode(&encoded).unwrap(), pending.token);
    /// ```
    pub fn encoded(&self) -> String {
        self.token.encode()
    }
}

/// `/1.0/certificates`, by fingerprint.
const CERTIFICATES: CollectionPath = CollectionPath::new("/1.0/certificates", |fingerprint| {
    validate_hex_key("certificate fingerprint", fingerprint)
});

/// LXD takes a certificate as base64 of its DER bytes, which is what a PEM block holds
/// between its armour lines: PEM input is turned into that, anything else is sent as is.
fn certificate_for_lxd(certificate: &str) -> Result<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = certificate.trim();
    if !text.starts_with("-----BEGIN") {
        return Ok(text.to_string());
    }
    let body = text
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.split(END).next().filter(|_| rest.contains(END)))
        .ok_or_else(|| Error::invalid("certificate", "PEM without a CERTIFICATE block"))?;
    Ok(body.chars().filter(|c| !c.is_whitespace()).collect())
}

impl Certificates {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        CERTIFICATES.on(&self.client)
    }

    /// The fingerprints of the trusted certificates.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.certificates().list_fingerprints().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_get)
    pub async fn list_fingerprints(&self) -> Result<Vec<String>> {
        self.collection().names().await
    }

    /// Every trusted certificate, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for c in client.certificates().list().await? {
    ///     println!("{} {} restricted={} {:?}", &c.fingerprint[..12], c.name, c.restricted, c.projects);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_get_recursion1)
    pub async fn list(&self) -> Result<Vec<Certificate>> {
        self.collection().list().await
    }

    /// One certificate, by fingerprint (LXD also accepts a unique prefix).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let c = client.certificates().get("b04e2d36").await?;
    /// println!("{} {}", c.name, c.certificate_type);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificate_get)
    pub async fn get(&self, fingerprint: &str) -> Result<Certificate> {
        self.collection().get(fingerprint).await
    }

    /// One certificate with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let certificates = client.certificates();
    /// let c = certificates.get_with_etag("b04e2d36").await?;
    /// let mut put = c.writable();
    /// put.restricted = true;
    /// put.projects = vec!["ci".into()];
    /// certificates.update(&c.fingerprint, &put, c.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificate_get)
    pub async fn get_with_etag(&self, fingerprint: &str) -> Result<Versioned<Certificate>> {
        self.collection().get_versioned(fingerprint).await
    }

    /// Whether a certificate with this fingerprint is trusted.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.certificates().exists("b04e2d36").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificate_get)
    pub async fn exists(&self, fingerprint: &str) -> Result<bool> {
        self.collection().exists(fingerprint).await
    }

    /// Adds a certificate to the trust store.
    ///
    /// - A trusted client sets `certificate` (PEM, or base64 DER as LXD takes it), `name`,
    ///   `certificate_type`, and for a restricted client `restricted` and `projects`.
    /// - An untrusted HTTPS client adds its own TLS certificate by leaving `certificate`
    ///   empty and setting `password` (the trust password, or a join token on LXD 5.0) or
    ///   `trust_token` (newer servers); [`Client::authenticate`] does this for you.
    ///
    /// For a join token use [`create_token`](Self::create_token).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client, pem: String) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{CertificateType, CertificatesPost};
    /// client
    ///     .certificates()
    ///     .add(&CertificatesPost {
    ///         name: "prometheus".into(),
    ///         certificate_type: CertificateType::Metrics,
    ///         certificate: pem,
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_post)
    pub async fn add(&self, request: &CertificatesPost) -> Result<()> {
        if request.token {
            return Err(Error::invalid(
                "certificate request",
                "token requests answer with an operation: use create_token",
            ));
        }
        let mut request = request.clone();
        request.certificate = certificate_for_lxd(&request.certificate)?;
        self.client
            .write(Method::POST, "/1.0/certificates", &[], Some(&request))
            .await
    }

    /// Replaces a certificate's writable fields (`PUT`: name, type, restriction, projects,
    /// the certificate itself as PEM), optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let certificates = client.certificates();
    /// let mut put = certificates.get("b04e2d36").await?.writable();
    /// put.name = "ci-runner".into();
    /// certificates.update("b04e2d36", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificate_put)
    pub async fn update(
        &self,
        fingerprint: &str,
        put: &CertificatePut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        // Unlike POST, LXD reads a PUT's certificate as PEM (as GET shows it).
        if !put.certificate.is_empty() && !put.certificate.trim_start().starts_with("-----BEGIN") {
            return Err(Error::invalid(
                "certificate",
                "a certificate update takes PEM, as get() returns it",
            ));
        }
        self.collection().update(fingerprint, put, etag).await
    }

    /// Changes only what `body` names (`PATCH`: LXD applies it over the current
    /// certificate), optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"restricted": true, "projects": ["ci"]});
    /// client.certificates().patch("b04e2d36", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificate_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        fingerprint: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.collection().patch(fingerprint, body, etag).await
    }

    /// Removes a certificate from the trust store.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.certificates().delete("b04e2d36").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificate_delete)
    pub async fn delete(&self, fingerprint: &str) -> Result<()> {
        self.collection().delete(fingerprint).await
    }

    /// Creates a join token for a client certificate to be trusted as `name` (API extension
    /// `certificate_token`). The new client presents it once over HTTPS
    /// ([`Client::authenticate`]); it then expires. See
    /// [`create_token_with`](Self::create_token_with) for a restricted client.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let token = client.certificates().create_token("laptop").await?;
    /// println!("{}", token.encoded());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_post)
    pub async fn create_token(&self, name: &str) -> Result<TrustToken> {
        self.create_token_with(&CertificatesPost {
            name: name.to_string(),
            ..Default::default()
        })
        .await
    }

    /// Creates a join token as `request` says (`name`, and `restricted` with `projects` to
    /// limit the client that uses it; `token` is set for you).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::CertificatesPost;
    /// let token = client
    ///     .certificates()
    ///     .create_token_with(&CertificatesPost {
    ///         name: "ci".into(),
    ///         restricted: true,
    ///         projects: vec!["ci".into()],
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_post)
    pub async fn create_token_with(&self, request: &CertificatesPost) -> Result<TrustToken> {
        if request.name.is_empty() {
            return Err(Error::invalid(
                "token request",
                "a name is needed: the certificate is trusted under it",
            ));
        }
        if !request.certificate.is_empty() {
            return Err(Error::invalid(
                "token request",
                "a token request carries no certificate (the client presents its own)",
            ));
        }
        if request.certificate_type != CertificateType::Client {
            return Err(Error::invalid(
                "token request",
                "LXD issues tokens for client certificates only",
            ));
        }
        self.client
            .require_api_extension("certificate_token")
            .await?;
        let mut request = request.clone();
        request.token = true;
        let op = self
            .client
            .send_operation(Method::POST, "/1.0/certificates", &[], Some(&request))
            .await?;
        let token = CertificateAddToken::from_operation(op.info()).ok_or_else(|| {
            Error::malformed(
                "POST /1.0/certificates",
                "the token operation lacks the token fields",
                b"",
            )
        })?;
        Ok(TrustToken {
            operation_id: op.id().to_string(),
            token,
        })
    }

    /// The join tokens not used yet: running `token` operations of the default project
    /// that carry a certificate add token (cluster join tokens are left out).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for t in client.certificates().list_tokens().await? {
    ///     println!("{} expires {:?}", t.token.client_name, t.token.expires_at);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operations_get_recursion1)
    pub async fn list_tokens(&self) -> Result<Vec<TrustToken>> {
        let operations = self.client.operations().list().await?;
        Ok(operations
            .iter()
            .filter(|op| op.class == OperationClass::Token && op.status_code == StatusCode::RUNNING)
            .filter_map(|op| {
                CertificateAddToken::from_operation(op).map(|token| TrustToken {
                    operation_id: op.id.clone(),
                    token,
                })
            })
            .collect())
    }

    /// Revokes a join token by its operation id ([`TrustToken::operation_id`]).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let certificates = client.certificates();
    /// for t in certificates.list_tokens().await? {
    ///     if t.token.client_name == "laptop" {
    ///         certificates.revoke_token(&t.operation_id).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_delete)
    pub async fn revoke_token(&self, operation_id: &str) -> Result<()> {
        validate_hex_key("token operation id", operation_id)?;
        self.client.operations().cancel(operation_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_becomes_base64_der() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\nzCCA\n-----END CERTIFICATE-----\n";
        assert_eq!(certificate_for_lxd(pem).unwrap(), "MIIBzCCA");
        assert_eq!(certificate_for_lxd("MIIBzCCA").unwrap(), "MIIBzCCA");
        assert_eq!(certificate_for_lxd("").unwrap(), "");
        assert!(certificate_for_lxd("-----BEGIN PRIVATE KEY-----\nabc\n").is_err());
        assert!(certificate_for_lxd("-----BEGIN CERTIFICATE-----\nabc\n").is_err());
    }
}
