//! The outbound policy: which addresses drey may connect to when it fetches
//! a URL a user gave it (an http(s) `jarURI`). Loopback, link-local,
//! private, shared (CGNAT), unspecified, multicast and broadcast addresses,
//! and IPv6 forms that embed such an IPv4 address, are refused unless the
//! allow-list (`--outbound-allow CIDR`) names them.
//!
//! The check is made on the addresses a name resolves to, by the resolver
//! the HTTP client connects through ([`checked_client`]): the client never
//! connects to an address that was not checked, so a name that resolves to
//! a public address once and to a private one later (DNS rebinding) gains
//! nothing. Literal addresses in a URL, which the client does not resolve,
//! and every redirect hop are checked the same way.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// At most this many redirects are followed.
pub const MAX_REDIRECTS: usize = 5;

/// Settings of outbound downloads.
#[derive(Clone, Debug)]
pub struct OutboundSettings {
    /// Addresses drey may connect to although the policy refuses their range.
    pub allow: Vec<ipnet::IpNet>,
    /// Largest body of one download.
    pub download_max_bytes: u64,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings {
            allow: Vec::new(),
            download_max_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Which destinations outbound requests may reach.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    allow: Vec<IpNet>,
}

impl OutboundPolicy {
    /// The default refusals, except the addresses inside `allow`.
    pub fn new(allow: Vec<IpNet>) -> Self {
        OutboundPolicy { allow }
    }

    /// Whether a connection to `ip` is permitted.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let canonical = canonical(ip);
        if self
            .allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return true;
        }
        !is_refused(ip)
    }

    /// Why `url` may not be fetched, or `None` when its scheme is http(s)
    /// and its host, if a literal address, is permitted. Host names are
    /// checked when they are resolved ([`checked_client`]).
    pub fn refuses_url(&self, url: &reqwest::Url) -> Option<String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Some(format!("scheme {} is not http(s)", url.scheme()));
        }
        let Some(host) = url.host_str() else {
            return Some("no host".into());
        };
        // The URL parser has put literal addresses in their one canonical
        // form (IPv6 in brackets); anything else is a name.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(ip) = literal.parse::<IpAddr>() else {
            return None;
        };
        (!self.permits(ip)).then(|| format!("address {ip} is refused by the outbound policy"))
    }
}

/// An IPv4 address an IPv6 address stands for (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`), else the address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if v6.is_loopback() || v6.is_unspecified() {
        return None;
    }
    if let Some(v4) = v6.to_ipv4() {
        // `to_ipv4` covers the mapped and the (deprecated) compatible forms.
        return Some(v4);
    }
    let nat64 = Ipv6Net::new(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96).ok()?;
    nat64.contains(&v6).then(|| {
        let o = v6.octets();
        Ipv4Addr::new(o[12], o[13], o[14], o[15])
    })
}

/// Whether `ip` is in a range drey does not connect to by default.
pub fn is_refused(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_refused_v4(v4),
        IpAddr::V6(v6) => is_refused_v6(v6),
    }
}

fn is_refused_v4(ip: Ipv4Addr) -> bool {
    // 100.64.0.0/10 (shared address space, RFC 6598) and 0.0.0.0/8 ("this
    // network"), which `Ipv4Addr` has no stable method for.
    let net = |a, b, c, d, len| Ipv4Net::new(Ipv4Addr::new(a, b, c, d), len).ok();
    let shared = net(100, 64, 0, 0, 10);
    let this_network = net(0, 0, 0, 0, 8);
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || [shared, this_network]
            .iter()
            .flatten()
            .any(|n| n.contains(&ip))
}

fn is_refused_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unicast_link_local()
        || ip.is_unique_local()
}

/// Resolves names with the system resolver and hands the HTTP client their
/// addresses only when every one of them is permitted.
struct CheckedResolver {
    policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            if let Some(bad) = addrs.iter().find(|a| !policy.permits(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, refused by the outbound policy",
                    bad.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client that connects only to addresses `policy` permits: names
/// resolved through the policy, redirects (at most [`MAX_REDIRECTS`])
/// checked hop by hop, no proxy from the environment, and a connect
/// timeout. Callers check the first URL with [`OutboundPolicy::refuses_url`].
pub fn checked_client(
    policy: Arc<OutboundPolicy>,
    connect_timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    let for_redirects = policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        match for_redirects.refuses_url(attempt.url()) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    });
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver { policy }))
        .redirect(redirects)
        .no_proxy()
        .connect_timeout(connect_timeout)
        .build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(list.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn refused_and_permitted_addresses_without_connecting() {
        let policy = OutboundPolicy::default();
        let refused = [
            // IPv4: loopback, private, link-local, unspecified, "this
            // network", multicast, broadcast, shared (CGNAT), with the
            // boundaries of each range.
            "127.0.0.1",
            "127.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.0",
            "192.168.255.255",
            "169.254.0.0",
            "169.254.169.254",
            "169.254.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.255",
            "255.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            // IPv6: loopback, unspecified, link-local, unique local, multicast.
            "::1",
            "::",
            "fe80::1",
            "febf:ffff::1",
            "fc00::",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ff02::1",
            // IPv4 addresses dressed as IPv6.
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::ffff:100.64.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ];
        for a in refused {
            assert!(!policy.permits(ip(a)), "{a} must be refused");
        }
        let permitted = [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "223.255.255.255",
            "128.0.0.1",
            "1.0.0.0",
            "2606:4700::1111",
            "fec0::1",
            "fbff:ffff::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ];
        for a in permitted {
            assert!(policy.permits(ip(a)), "{a} must be permitted");
        }
    }

    #[test]
    fn the_allow_list_overrides_exactly_what_it_names() {
        let policy = nets(&["127.0.0.1/32", "10.1.0.0/16", "fd00::/8"]);
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")), "mapped form");
        assert!(!policy.permits(ip("127.0.0.2")));
        assert!(!policy.permits(ip("::1")), "IPv6 loopback is not named");
        assert!(policy.permits(ip("10.1.0.0")));
        assert!(policy.permits(ip("10.1.255.255")));
        assert!(!policy.permits(ip("10.0.255.255")));
        assert!(!policy.permits(ip("10.2.0.0")));
        assert!(policy.permits(ip("fd12::1")));
        assert!(!policy.permits(ip("fc00::1")));
        assert!(!policy.permits(ip("169.254.169.254")));
        let all = nets(&["0.0.0.0/0", "::/0"]);
        assert!(all.permits(ip("169.254.169.254")) && all.permits(ip("::1")));
    }

    #[test]
    fn urls_with_literal_addresses_and_other_schemes() {
        let policy = nets(&["127.0.0.1/32"]);
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(policy
            .refuses_url(&url("http://127.0.0.1:1/a.jar"))
            .is_none());
        assert!(policy
            .refuses_url(&url("https://example.com/a.jar"))
            .is_none());
        for refused in [
            "http://127.0.0.2/a.jar",
            "http://[::1]/a.jar",
            "http://[::ffff:7f00:2]/a.jar",
            "http://169.254.169.254/latest/meta-data",
            "http://2130706434/a.jar", // 127.0.0.2 as one number
            "http://0x7f.2/a.jar",
            "ftp://example.com/a.jar",
            "file:///etc/passwd",
        ] {
            assert!(policy.refuses_url(&url(refused)).is_some(), "{refused}");
        }
    }
}
