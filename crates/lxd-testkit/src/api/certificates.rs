//! `/1.0/certificates`: the trust store. Trusted clients list, add (PEM-less base64 DER, as
//! LXD 5.0 takes it), update and remove certificates and ask for add tokens; untrusted HTTPS
//! clients add their own certificate with the trust password or a token (single use).

use std::sync::Arc;

use lxd_proto::{
    Certificate, CertificateAddToken, CertificateType, CertificatesPost, LifecycleAction,
    OperationClass,
};
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::http::{ApiError, ApiResult, Identity, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::CertRec;
use crate::tls::parse_certificate;
use crate::util::{self, api_url};

fn url(fingerprint: &str) -> String {
    api_url(&["certificates", fingerprint], "")
}

fn render(cert: &CertRec) -> Certificate {
    Certificate {
        name: cert.name.clone(),
        certificate_type: CertificateType::from(cert.kind.as_str()),
        restricted: cert.restricted,
        projects: cert.projects.clone(),
        certificate: cert.pem.clone(),
        fingerprint: cert.fingerprint.clone(),
        ..Default::default()
    }
}

fn etag(cert: &CertRec) -> String {
    util::etag_of(&json!([
        cert.name,
        cert.kind,
        cert.restricted,
        cert.projects
    ]))
}

/// The certificate a prefix names (LXD accepts unique fingerprint prefixes).
fn find<'a>(certs: &'a [CertRec], prefix: &str) -> Result<&'a CertRec, ApiError> {
    let mut matches = certs.iter().filter(|c| c.fingerprint.starts_with(prefix));
    let first = matches
        .next()
        .filter(|_| !prefix.is_empty())
        .ok_or_else(|| ApiError::not_found("Certificate not found"))?;
    if matches.next().is_some() {
        return Err(ApiError::bad_request("More than one certificate matches"));
    }
    Ok(first)
}

/// `GET /1.0/certificates`.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    let items: Vec<Value> = state
        .certificates
        .iter()
        .map(|c| {
            if req.recursion() > 0 {
                serde_json::to_value(render(c)).unwrap_or(Value::Null)
            } else {
                Value::String(url(&c.fingerprint))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `GET /1.0/certificates/<fingerprint>`.
pub(crate) fn get(inner: &Arc<Inner>, fingerprint: &str) -> ApiResult {
    let state = inner.state();
    let cert = find(&state.certificates, fingerprint)?;
    Ok(Reply::with_etag(
        serde_json::to_value(render(cert)).unwrap_or(Value::Null),
        etag(cert),
    ))
}

/// Creates a certificate add token operation and returns the operation; the token string
/// is `CertificateAddToken::from_operation(..).encode()`.
fn token_operation(
    inner: &Arc<Inner>,
    post: &CertificatesPost,
) -> Result<Arc<crate::operations::Op>, ApiError> {
    let addresses = inner.state().addresses.clone();
    if addresses.is_empty() {
        return Err(ApiError::bad_request(
            "Can't issue token when server isn't listening on network",
        ));
    }
    let request = json!({
        "name": post.name,
        "type": post.certificate_type.as_str(),
        "restricted": post.restricted,
        "projects": post.projects,
        "certificate": "",
        "password": "",
        "token": true,
    });
    let mut spec = OpSpec::task("Executing operation", "default");
    spec.class = OperationClass::Token;
    spec.may_cancel = true;
    spec.metadata = Some(json!({
        "secret": util::secret(),
        "fingerprint": inner.identity.fingerprint,
        "addresses": addresses,
        "request": request,
    }));
    Ok(inner.ops.create(spec))
}

/// Issues a token for `name` (for [`crate::TestServer::trust_token`]).
pub(crate) fn issue_token(
    inner: &Arc<Inner>,
    name: &str,
    projects: Option<Vec<String>>,
) -> Result<String, ApiError> {
    let post = CertificatesPost {
        name: name.to_string(),
        token: true,
        restricted: projects.is_some(),
        projects: projects.unwrap_or_default(),
        ..Default::default()
    };
    let op = token_operation(inner, &post)?;
    inner.ops.start_token(&op);
    let token = CertificateAddToken::from_operation(&op.render())
        .ok_or_else(|| ApiError::internal("token operation without token data"))?;
    Ok(token.encode())
}

/// Finds the running token operation whose secret the token carries and uses it up.
fn redeem_token(inner: &Arc<Inner>, token: &CertificateAddToken) -> Result<Value, ApiError> {
    for op in inner.ops.all() {
        if op.class != OperationClass::Token || op.status() != lxd_proto::StatusCode::RUNNING {
            continue;
        }
        let Some(metadata) = op.metadata() else {
            continue;
        };
        if metadata.get("secret").and_then(Value::as_str) != Some(token.secret.as_str()) {
            continue;
        }
        let _ = inner.ops.cancel(&op);
        if let Some(expiry) = metadata.get("expiresAt").and_then(Value::as_str)
            && !expiry.is_empty()
            && expiry < util::now().as_str()
        {
            return Err(ApiError::new(403, "Token has expired"));
        }
        return Ok(metadata.get("request").cloned().unwrap_or(Value::Null));
    }
    Err(ApiError::new(
        403,
        "No matching certificate add operation found",
    ))
}

/// `POST /1.0/certificates`.
pub(crate) fn create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let mut post: CertificatesPost = req.json()?;
    if !inner.flavor.takes_trust_password()
        && post.password.as_deref().is_some_and(|p| !p.is_empty())
    {
        return Err(ApiError::not_implemented(
            "Password authentication is no longer supported, please update your client",
        ));
    }
    if post.token && !post.certificate.is_empty() {
        return Err(ApiError::bad_request(
            "Can't use certificate if token is requested",
        ));
    }
    if post.token && post.certificate_type != CertificateType::Client {
        return Err(ApiError::bad_request(
            "Tokens can only be issued for client certificates",
        ));
    }
    if req.trusted && post.certificate.is_empty() && !post.token {
        return Err(ApiError::bad_request("Client is already trusted"));
    }
    if !req.trusted {
        if post.token {
            return Err(ApiError::forbidden());
        }
        let secret = post
            .trust_token
            .clone()
            .or_else(|| post.password.clone())
            .unwrap_or_default();
        if secret.is_empty() {
            return Err(ApiError::forbidden());
        }
        match CertificateAddToken::decode(&secret) {
            Ok(token) if !token.secret.is_empty() => {
                let request = redeem_token(inner, &token)?;
                let field = |k: &str| request.get(k).cloned().unwrap_or(Value::Null);
                post = CertificatesPost {
                    name: field("name").as_str().unwrap_or_default().to_string(),
                    certificate_type: CertificateType::from(
                        field("type").as_str().unwrap_or("client"),
                    ),
                    restricted: field("restricted").as_bool().unwrap_or(false),
                    projects: serde_json::from_value(field("projects")).unwrap_or_default(),
                    ..Default::default()
                };
            }
            _ => {
                let password = inner.state().trust_password.clone();
                if password.as_deref() != Some(secret.as_str()) {
                    tracing::warn!("bad trust password");
                    return Err(ApiError::forbidden());
                }
            }
        }
    }
    let kind = match &post.certificate_type {
        CertificateType::Client => "client",
        CertificateType::Metrics => "metrics",
        CertificateType::Server => "server",
        other => {
            return Err(ApiError::bad_request(format!(
                "Unknown certificate type {:?}",
                other.as_str()
            )));
        }
    };
    let der = if !post.certificate.is_empty() {
        util::base64_decode(&post.certificate)
            .ok_or_else(|| ApiError::bad_request("illegal base64 data at input byte 0"))?
    } else if post.token {
        let op = token_operation(inner, &post)?;
        return Ok(inner.ops.start_token(&op));
    } else {
        match &req.identity {
            Identity::Tls {
                certificate: Some(der),
                ..
            } => der.to_vec(),
            Identity::Tls { .. } => {
                return Err(ApiError::bad_request("No client certificate provided"));
            }
            Identity::Unix => {
                return Err(ApiError::bad_request("Can't use TLS data on non-TLS link"));
            }
        }
    };
    let parsed = parse_certificate(&der)
        .map_err(|e| ApiError::bad_request(format!("Invalid certificate material: {e}")))?;
    let name = if !post.name.is_empty() {
        post.name.clone()
    } else if !parsed.common_name.is_empty() {
        parsed.common_name.clone()
    } else {
        match &req.identity {
            Identity::Tls { address, .. } => address
                .rsplit_once(':')
                .map_or(address.clone(), |(host, _)| host.to_string()),
            Identity::Unix => "unix".into(),
        }
    };
    {
        let mut state = inner.state();
        if state.certificate(&parsed.fingerprint).is_some() {
            return Err(ApiError::conflict("Certificate already in trust store"));
        }
        state.certificates.push(CertRec {
            fingerprint: parsed.fingerprint.clone(),
            name,
            kind: kind.into(),
            restricted: post.restricted,
            projects: post.projects.clone(),
            pem: parsed.pem,
        });
    }
    let source = url(&parsed.fingerprint);
    inner.events.lifecycle(
        "default",
        LifecycleAction::CertificateCreated,
        source.clone(),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::created(source))
}

/// `PUT`/`PATCH /1.0/certificates/<fingerprint>`.
pub(crate) fn update(inner: &Arc<Inner>, req: &Req, fingerprint: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let source = {
        let mut state = inner.state();
        let current = find(&state.certificates, fingerprint)?.clone();
        check_etag(req, &etag(&current))?;
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let mut next = current.clone();
        if !patch || body.contains_key("name") {
            next.name = text("name").unwrap_or_default();
        }
        if !patch || body.contains_key("type") {
            let kind = text("type").unwrap_or_else(|| "client".into());
            if !["client", "metrics", "server"].contains(&kind.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Unknown certificate type {kind:?}"
                )));
            }
            next.kind = kind;
        }
        if !patch || body.contains_key("restricted") {
            next.restricted = body
                .get("restricted")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        if !patch || body.contains_key("projects") {
            next.projects = crate::state::strings_from_json(body.get("projects"))
                .map_err(ApiError::bad_request)?;
        }
        let target = state
            .certificates
            .iter_mut()
            .find(|c| c.fingerprint == current.fingerprint)
            .expect("found above");
        *target = next;
        url(&current.fingerprint)
    };
    inner.events.lifecycle(
        "default",
        LifecycleAction::CertificateUpdated,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `DELETE /1.0/certificates/<fingerprint>`.
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, fingerprint: &str) -> ApiResult {
    let source = {
        let mut state = inner.state();
        let found = find(&state.certificates, fingerprint)?.fingerprint.clone();
        state.certificates.retain(|c| c.fingerprint != found);
        url(&found)
    };
    inner.events.lifecycle(
        "default",
        LifecycleAction::CertificateDeleted,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}
