//! Which proxy an endpoint goes through (docs/reliability.md, Secrets).

use std::net::IpAddr;

use crate::config::{Origin, ParsedUrl};
use crate::error::{Error, Result};
use ureq::ProxyProtocol;

/// The proxy for an endpoint and the env var naming it (docs/reliability.md, Secrets): never for
/// a loopback host; otherwise
/// the usual env vars for its scheme unless `NO_PROXY` names the host. A proxy that would see the
/// key in clear (plain http) is a config error. ureq's own env lookup is not used: it proxies
/// loopback and takes `ALL_PROXY` before the scheme's variable.
pub(super) fn proxy_for(
    url: &ParsedUrl,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<(ureq::Proxy, &'static str)>> {
    if url.is_loopback() {
        return Ok(None);
    }
    let vars = if url.scheme == "https" {
        ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    };
    let found = vars
        .into_iter()
        .find_map(|var| env(var).filter(|v| !v.trim().is_empty()).map(|v| (var, v)));
    let Some((var, value)) = found else {
        return Ok(None);
    };
    let no_proxy = env("no_proxy").or_else(|| env("NO_PROXY")).unwrap_or_default();
    if no_proxy_matches(&no_proxy, &url.host) {
        return Ok(None);
    }
    if url.scheme != "https" {
        let host = &url.host;
        return Err(Error::config(
            "endpoint_url",
            Origin::Env(var),
            format!(
                "plain http to {host} would go through the proxy set in {var}, key in clear; \
                 use an https endpoint, or add {host} to NO_PROXY to connect directly"
            ),
        ));
    }
    // The value may hold proxy credentials: it is not repeated.
    // Only HTTP CONNECT proxies: this build has no SOCKS support (ureq would panic on one).
    match ureq::Proxy::new(value.trim()) {
        Ok(proxy) if matches!(proxy.protocol(), ProxyProtocol::Http | ProxyProtocol::Https) => {
            Ok(Some((proxy, var)))
        }
        _ => Err(Error::config(
            "proxy",
            Origin::Env(var),
            format!(
                "{var} is not an http(s) proxy URL (expected http://host:port; SOCKS is not supported); \
                 fix or unset it"
            ),
        )),
    }
}

/// `NO_PROXY` as curl reads it: comma-separated; `*` for all; a name matches itself and its
/// subdomains (a leading `.` or `*.` is optional); IP literals and CIDR ranges.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return in_cidr(&host, net, bits);
            }
            let entry = entry
                .trim_start_matches('*')
                .trim_start_matches('.')
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            host == entry || host.strip_suffix(&entry).is_some_and(|rest| rest.ends_with('.'))
        })
}

fn in_cidr(host: &str, net: &str, bits: &str) -> bool {
    let (Ok(host), Ok(net), Ok(bits)) = (host.parse::<IpAddr>(), net.parse::<IpAddr>(), bits.parse::<u32>())
    else {
        return false;
    };
    let (host, net, width) = match (host, net) {
        (IpAddr::V4(h), IpAddr::V4(n)) => (u128::from(u32::from(h)), u128::from(u32::from(n)), 32u32),
        (IpAddr::V6(h), IpAddr::V6(n)) => (u128::from(h), u128::from(n), 128),
        _ => return false,
    };
    // A shift by the whole width (a /0) is `None` on both sides: everything matches.
    width
        .checked_sub(bits)
        .is_some_and(|shift| host.checked_shr(shift) == net.checked_shr(shift))
}

/// A proxy as shown to users: scheme, host and port, never its credentials.
pub(super) fn shown(proxy: &ureq::Proxy) -> String {
    let scheme = match proxy.protocol() {
        ProxyProtocol::Https => "https",
        _ => "http",
    };
    format!("{scheme}://{}:{}", proxy.host(), proxy.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_url;

    fn url(text: &str) -> ParsedUrl {
        parse_url(text).unwrap()
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const ALL: &[(&str, &str)] = &[
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
    ];

    #[test]
    fn loopback_is_never_proxied() {
        for endpoint in [
            "http://127.0.0.1:5000/score",
            "http://localhost/score",
            "https://[::1]:8443/score",
            "http://127.9.9.9/score",
        ] {
            assert!(
                proxy_for(&url(endpoint), env(ALL)).unwrap().is_none(),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn https_takes_its_own_variable_then_all_proxy() {
        let remote = url("https://my-endpoint.example.invalid/score");
        let proxy = proxy_for(
            &remote,
            env(&[
                ("HTTPS_PROXY", "http://10.0.0.1:3128"),
                ("ALL_PROXY", "http://10.0.0.2:1"),
            ]),
        );
        assert_eq!(proxy.unwrap().unwrap().0.host(), "10.0.0.1");
        let proxy = proxy_for(
            &remote,
            env(&[
                ("HTTP_PROXY", "http://10.0.0.1:3128"),
                ("all_proxy", "http://10.0.0.2:1"),
            ]),
        );
        assert_eq!(proxy.unwrap().unwrap().0.host(), "10.0.0.2");
        assert!(proxy_for(&remote, env(&[("HTTP_PROXY", "http://10.0.0.1:3128")]))
            .unwrap()
            .is_none());
        assert!(proxy_for(&remote, env(&[("HTTPS_PROXY", " ")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn plain_http_through_a_proxy_is_refused() {
        let err = proxy_for(&url("http://scoring.internal:8080/score"), env(ALL)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `endpoint_url` (env var HTTP_PROXY): plain http to scoring.internal would go \
             through the proxy set in HTTP_PROXY, key in clear; use an https endpoint, or add \
             scoring.internal to NO_PROXY to connect directly"
        );
        let direct = [("HTTP_PROXY", "http://127.0.0.1:9"), ("NO_PROXY", "internal")];
        assert!(
            proxy_for(&url("http://scoring.internal:8080/score"), env(&direct))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_bad_proxy_url_names_the_variable_not_the_value() {
        let err = proxy_for(
            &url("https://e.example/score"),
            env(&[("HTTPS_PROXY", "ftp://user:pw@x")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `proxy` (env var HTTPS_PROXY): HTTPS_PROXY is not an http(s) proxy URL (expected \
             http://host:port; SOCKS is not supported); fix or unset it"
        );
        let err = proxy_for(
            &url("https://e.example/score"),
            env(&[("ALL_PROXY", "socks5://127.0.0.1:1080")]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid `proxy` (env var ALL_PROXY): ALL_PROXY is not an http(s) proxy URL"),
            "{err}"
        );
    }

    #[test]
    fn no_proxy_entries() {
        let cases = [
            ("example.com", "example.com", true),
            ("example.com", "api.example.com", true),
            (".example.com", "api.example.com", true),
            ("*.example.com", "api.example.com", true),
            ("example.com", "badexample.com", false),
            ("EXAMPLE.com", "Example.COM", true),
            ("other, example.com ", "example.com", true),
            ("*", "anything.at.all", true),
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.1.2.3", false),
            ("0.0.0.0/0", "11.1.2.3", true),
            ("10.0.0.0/40", "10.1.2.3", false),
            ("fd00::/8", "[fd12::1]", true),
            ("::1", "[::1]", true),
            ("", "example.com", false),
        ];
        for (list, host, expected) in cases {
            assert_eq!(no_proxy_matches(list, host), expected, "{list:?} vs {host}");
        }
    }
}
