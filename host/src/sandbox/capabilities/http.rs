//! HTTP(S) to the hosts granted by `http_hosts`. Where a request goes once
//! allowed is a `HttpTransport`: the network, a simulation's capture, an
//! author's scripted answers; the grant is checked the same for all.

use std::io::Read;
use std::time::Duration;

use super::CallState;

/// The most of a response body an adapter is handed.
const MAX_RESPONSE: u64 = 1 << 20;

/// An HTTP request an adapter made through its `http` capability.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Where an allowed request goes.
pub trait HttpTransport: Send + Sync {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String>;
}

/// The network: no redirects, a 15 s timeout, the body capped.
pub struct Network;

impl HttpTransport for Network {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, String> {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(15)).redirects(0).build();
        let mut request = agent.request(&req.method, &req.url);
        for (k, v) in &req.headers {
            request = request.set(k, v);
        }
        let response = match request.send_bytes(&req.body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(e.to_string()),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let mut body = vec![];
        response.into_reader().take(MAX_RESPONSE).read_to_end(&mut body).map_err(|e| e.to_string())?;
        Ok(HttpResponse { status, headers, body })
    }
}

/// `host` and `host:port` of a URL, for the allow-list.
fn authority(url: &url::Url) -> Option<(String, String)> {
    let host = url.host_str()?.to_string();
    let port = url.port_or_known_default()?;
    Some((host.clone(), format!("{host}:{port}")))
}

pub(super) fn send(state: &CallState, req: HttpRequest) -> Result<HttpResponse, String> {
    let url = url::Url::parse(&req.url).map_err(|e| format!("bad url {:?}: {e}", req.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("denied: scheme {} (http and https only)", url.scheme()));
    }
    let Some((host, host_port)) = authority(&url) else { return Err(format!("bad url {:?}: no host", req.url)) };
    if !state.grants.http_hosts.iter().any(|h| *h == host || *h == host_port) {
        tracing::warn!(plugin = %state.plugin, host = %host_port, "denied: HTTP to a host not granted to this plugin");
        return Err(format!("denied: {host_port} is not granted to this adapter"));
    }
    state.grants.http.send(req).map_err(|e| format!("{host_port}: {e}"))
}
