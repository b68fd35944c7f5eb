//! What the operator's own mail server found about a message's sender
//! (RFC 8601 `Authentication-Results`). Only the header that server wrote
//! counts, known by its authserv-id: a sender can write any other.

use super::read::Mail;

/// The failed checks, as the server wrote them, when the sender is forged:
/// DMARC failed, or SPF failed and no DKIM signature passed. `None` when the
/// server vouches for it, said nothing, or no server is named.
pub(super) fn failed(mail: &Mail, authserv_id: Option<&str>) -> Option<String> {
    let ours = authserv_id?.trim();
    let results: Vec<(String, String)> = mail
        .headers
        .iter()
        .filter(|(name, _)| name == "authentication-results")
        .filter_map(|(_, value)| {
            let (server, rest) = value.split_once(';')?;
            // "mx.example.com 1" (a version after the id) is the same server.
            let server = server.split_whitespace().next()?;
            server.eq_ignore_ascii_case(ours).then_some(rest)
        })
        // The first is the one our server added on top of what came with the message.
        .take(1)
        .flat_map(|rest| rest.split(';').filter_map(method).collect::<Vec<_>>())
        .collect();
    let said = |m: &str, r: &[&str]| results.iter().any(|(method, result)| method == m && r.contains(&result.as_str()));
    let dmarc = said("dmarc", &["fail"]);
    let spf = said("spf", &["fail", "softfail"]) && !said("dkim", &["pass"]);
    (dmarc || spf).then(|| {
        results
            .iter()
            .filter(|(m, r)| ["dmarc", "spf", "dkim"].contains(&m.as_str()) && r != "pass")
            .map(|(m, r)| format!("{m}={r}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// `dkim=pass header.d=x` -> ("dkim", "pass"), lower case.
fn method(clause: &str) -> Option<(String, String)> {
    let first = clause.split_whitespace().next()?;
    let (method, result) = first.split_once('=')?;
    Some((method.trim().to_ascii_lowercase(), result.trim().trim_end_matches(',').to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(results: &[&str]) -> Mail {
        Mail {
            headers: results.iter().map(|r| ("authentication-results".to_string(), r.to_string())).collect(),
            ..Mail::default()
        }
    }

    #[test]
    fn only_our_servers_verdict_counts() {
        let forged = mail(&[
            "mx.acme.example; spf=fail smtp.mailfrom=rossi.example; dkim=none; dmarc=fail header.from=rossi.example",
        ]);
        assert_eq!(failed(&forged, Some("mx.acme.example")).as_deref(), Some("spf=fail, dkim=none, dmarc=fail"));
        assert_eq!(failed(&forged, None), None, "no server named: the header is not read");
        assert_eq!(failed(&forged, Some("mx.other.example")), None, "another server's header proves nothing");
        // The sender's own header under ours is not read.
        let smuggled = mail(&["mx.acme.example 1; spf=pass; dkim=pass; dmarc=pass", "mx.acme.example; dmarc=fail"]);
        assert_eq!(failed(&smuggled, Some("MX.acme.example")), None);
    }

    #[test]
    fn spf_failing_with_a_dkim_pass_is_a_forwarded_message_not_a_forgery() {
        let forwarded = mail(&["mx.acme.example; spf=softfail; dkim=pass header.d=rossi.example"]);
        assert_eq!(failed(&forwarded, Some("mx.acme.example")), None);
        let softfail = mail(&["mx.acme.example; spf=softfail smtp.mailfrom=x"]);
        assert_eq!(failed(&softfail, Some("mx.acme.example")).as_deref(), Some("spf=softfail"));
    }
}
