//! What an upload (the API's, or the watched folder's) may install: a
//! package, verified as `plugin install` verifies one, or a bare component.
//! Once the operator trusts a publisher (`[plugins.trusted]`), whatever no
//! trusted key signed is refused, a bare component included, unless
//! `[plugins] allow_unsigned`; before that, uploads are the operator's own.

use super::{ApiError, Refusal};
use crate::config::Config;
use crate::package::{About, Package, Publisher};

/// What an upload brought: the component, and the package it came in.
pub(crate) struct Admitted {
    pub component: Vec<u8>,
    pub package: Option<(String, About, Option<Publisher>)>,
}

fn refused(field: &str, why: String) -> ApiError {
    ApiError::new(Refusal::Invalid, why).field(field)
}

/// Admits `bytes` under the config's rules, or says why not.
pub(crate) fn admit(config: &Config, bytes: Vec<u8>) -> Result<Admitted, ApiError> {
    let plugins = &config.plugins;
    let unsigned_ok = plugins.trusted.is_empty() || plugins.allow_unsigned;
    if bytes.starts_with(b"\0asm") {
        if !unsigned_ok {
            let why = "a bare component carries no signature, and [plugins.trusted] names the publishers whose \
                packages install: upload a signed package (or set [plugins] allow_unsigned)";
            return Err(refused("body", why.into()));
        }
        return Ok(Admitted { component: bytes, package: None });
    }
    // Whatever is wrong inside a package, the field at fault is the body; the reason names the place.
    let package = Package::read(&bytes).map_err(|e| match e.at.as_str() {
        "package" => {
            refused("body", format!("neither a WebAssembly component (no \\0asm header) nor a package: {}", e.reason))
        }
        _ => refused("body", format!("the package: {e}")),
    })?;
    let publisher = package.verify(&plugins.trusted, unsigned_ok).map_err(|e| refused("body", e.to_string()))?;
    let Package { digest, component, about, .. } = package;
    Ok(Admitted { component, package: Some((digest, about, publisher)) })
}
