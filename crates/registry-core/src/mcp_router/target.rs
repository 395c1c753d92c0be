//! The addresses the registry agrees to call on an instance's behalf.
//!
//! Registration hands the registry two URLs it will later request by itself, which
//! makes it a server-side request forgery target: a URL naming the cloud metadata
//! service, or the registry's own loopback, would have the registry fetch what the
//! caller cannot. So a target must be http(s) without credentials, and every address
//! its host resolves to must be an ordinary unicast address. Loopback is allowed
//! only when the operator says so (local development and tests); link-local,
//! metadata, unspecified, multicast and broadcast addresses never are. Private
//! networks (10/8, 172.16/12, 192.168/16, fc00::/7) are where a router's instances
//! usually live, so the router allows them; webhooks, whose targets any plugin
//! owner names, refuse them unless the operator allows them, so a stranger's
//! subscription cannot reach the operator's own network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// Longest target URL accepted.
pub const MAX_TARGET_URL_LEN: usize = 2048;

/// An instance's `url` or `health_check_url`: absolute http(s) with a host, no
/// user name or password (they would be shown to every router reading the table),
/// at most [`MAX_TARGET_URL_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(Url);

impl TargetUrl {
    /// Checks `raw` against the rules above.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_TARGET_URL_LEN {
            return Err(format!(
                "must be at most {MAX_TARGET_URL_LEN} characters (got {})",
                raw.len()
            ));
        }
        let url = Url::parse(raw).map_err(|e| format!("is not an absolute URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "must be an http or https URL (got scheme {:?})",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".to_owned());
        }
        Ok(Self(url))
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host's address when the URL names one directly.
    pub fn ip_literal(&self) -> Option<IpAddr> {
        match self.0.host()? {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        }
    }

    /// The host name to resolve (also an IP literal's text, unbracketed).
    pub fn host(&self) -> &str {
        let host = self.0.host_str().unwrap_or_default();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The port, explicit or the scheme's.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(80)
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TargetUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TargetUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Which addresses the registry calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Whether loopback addresses are allowed (`OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS=1`).
    pub allow_loopback: bool,
    /// Whether private networks are allowed (10/8, 172.16/12, 192.168/16, fc00::/7).
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Production webhooks: no loopback, no private networks.
    pub const STRICT: Self = Self {
        allow_loopback: false,
        allow_private: false,
    };

    /// Production router instances: private networks, no loopback.
    pub const INSTANCES: Self = Self {
        allow_loopback: false,
        allow_private: true,
    };

    /// Why the registry will not call `ip`, or `Ok` when it will.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if !self.allow_private && is_private(ip) {
            return Err(format!(
                "{ip} is on a private network; the registry calls only public addresses here (an operator allows private networks with OPENWORKFLOW_REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS=1)"
            ));
        }
        match refusal(ip) {
            Some(Refusal::Loopback) if self.allow_loopback => Ok(()),
            Some(Refusal::Loopback) => Err(format!(
                "{ip} is a loopback address; the registry calls only addresses other hosts can reach (a local registry allows loopback with OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS=1)"
            )),
            Some(other) => Err(format!(
                "{ip} is {}; the registry never calls it",
                other.describe()
            )),
            None => Ok(()),
        }
    }

    /// The addresses of `resolved` the registry may call: all of them, or an error
    /// naming the first refused one. Any refused address refuses the host, so a
    /// name with one public and one metadata address cannot be used to reach the latter.
    pub fn check_resolved(&self, host: &str, resolved: &[IpAddr]) -> Result<(), String> {
        if resolved.is_empty() {
            return Err(format!("{host} resolves to no address"));
        }
        for ip in resolved {
            self.check_ip(*ip)
                .map_err(|why| format!("{host} resolves to {why}"))?;
        }
        Ok(())
    }

    /// Whether `url` may be called: its literal address, or every address its
    /// host resolves to (by `resolve`), allowed. Nothing is sent to it.
    pub async fn check_url<F, Fut>(&self, url: &TargetUrl, resolve: F) -> Result<(), String>
    where
        F: FnOnce(String, u16) -> Fut,
        Fut: Future<Output = Result<Vec<IpAddr>, String>>,
    {
        if let Some(ip) = url.ip_literal() {
            return self.check_ip(ip);
        }
        let resolved = resolve(url.host().to_owned(), url.port())
            .await
            .map_err(|e| format!("{} does not resolve: {e}", url.host()))?;
        self.check_resolved(url.host(), &resolved)
    }
}

/// Whether `ip` is on a private network, in either family or carried in IPv6.
fn is_private(ip: IpAddr) -> bool {
    let private_v4 = |v4: Ipv4Addr| v4.is_private();
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => {
            embedded_v4(v6).into_iter().flatten().any(private_v4)
                || v6.segments()[0] & 0xfe00 == 0xfc00
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Loopback,
    Unspecified,
    LinkLocal,
    Metadata,
    Multicast,
    Broadcast,
    Reserved,
    LocalTranslator,
}

impl Refusal {
    fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address",
            Self::Unspecified => "an unspecified address",
            Self::LinkLocal => "a link-local address (where cloud metadata services answer)",
            Self::Metadata => "a cloud platform's metadata or host service address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Reserved => "a reserved address (IETF protocol assignments or 240.0.0.0/4)",
            Self::LocalTranslator => {
                "a local-use NAT64 address (64:ff9b:1::/48), which may reach any IPv4 address"
            }
        }
    }
}

/// Platform services that answer outside link-local: Alibaba Cloud's metadata
/// service and Azure's WireServer (its agent and DNS host).
const METADATA_V4: [Ipv4Addr; 2] = [
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
];
/// EC2's IPv6 metadata service (Nitro).
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Judges an address by what it reaches: an IPv6 address that carries an IPv4
/// address (mapped, translated, compatible, NAT64, 6to4, Teredo) is refused when
/// any IPv4 address it carries is, so no spelling of loopback or metadata slips by.
fn refusal(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(refused) = embedded_v4(v6).into_iter().flatten().find_map(refusal_v4) {
                return Some(refused);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some(Refusal::Loopback)
            } else if v6.is_unspecified() {
                Some(Refusal::Unspecified)
            } else if v6 == EC2_METADATA_V6 {
                Some(Refusal::Metadata)
            } else if v6.is_unicast_link_local() {
                Some(Refusal::LinkLocal)
            } else if v6.is_multicast() {
                Some(Refusal::Multicast)
            } else if v6.segments()[..3] == [0x64, 0xff9b, 1] {
                Some(Refusal::LocalTranslator)
            } else if first & 0xffc0 == 0xfec0 {
                // Deprecated site-local (fec0::/10): nothing legitimate lives there.
                Some(Refusal::Reserved)
            } else {
                None
            }
        }
    }
}

fn refusal_v4(v4: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = v4.octets();
    if v4.is_loopback() {
        Some(Refusal::Loopback)
    } else if a == 0 {
        Some(Refusal::Unspecified)
    } else if METADATA_V4.contains(&v4) {
        Some(Refusal::Metadata)
    } else if v4.is_link_local() {
        Some(Refusal::LinkLocal)
    } else if v4.is_multicast() {
        Some(Refusal::Multicast)
    } else if v4.is_broadcast() {
        Some(Refusal::Broadcast)
    } else if (a, b, c) == (192, 0, 0) || a >= 240 {
        // 192.0.0.0/24 holds protocol assignments (192.0.0.192 answers as a cloud
        // metadata service); 240.0.0.0/4 is reserved.
        Some(Refusal::Reserved)
    } else {
        None
    }
}

/// The IPv4 addresses `v6` carries, by the transition mechanism its prefix names.
fn embedded_v4(v6: Ipv6Addr) -> [Option<Ipv4Addr>; 2] {
    let s = v6.segments();
    let v4_at = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let tail = v4_at(s[6], s[7]);
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return [Some(mapped), None];
    }
    match s[..6] {
        // ::a.b.c.d (deprecated "compatible"), except :: and ::1 themselves.
        [0, 0, 0, 0, 0, 0] if !v6.is_loopback() && !v6.is_unspecified() => [Some(tail), None],
        // ::ffff:0:a.b.c.d (SIIT "translated") and 64:ff9b::a.b.c.d (NAT64).
        [0, 0, 0, 0, 0xffff, 0] | [0x64, 0xff9b, 0, 0, 0, 0] => [Some(tail), None],
        // 6to4: 2002:AABB:CCDD::/48 relays to AA.BB.CC.DD.
        [0x2002, high, low, ..] => [Some(v4_at(high, low)), None],
        // Teredo: 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, the server in clear and the
        // client's address inverted.
        [0x2001, 0, high, low, ..] => [Some(v4_at(high, low)), Some(v4_at(!s[6], !s[7]))],
        _ => [None, None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn target_urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(TargetUrl::parse("http://weather-service:8000/healthz").is_ok());
        assert!(TargetUrl::parse("https://[2001:db8::1]:8443/").is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "weather-service:8000",
            "http://user:pw@example.com/",
            "http://",
            "/healthz",
        ] {
            assert!(TargetUrl::parse(bad).is_err(), "{bad} was accepted");
        }
        let long = format!("http://example.com/{}", "a".repeat(MAX_TARGET_URL_LEN));
        assert!(TargetUrl::parse(&long).is_err());
    }

    #[test]
    fn instance_policy_refuses_loopback_link_local_and_metadata() {
        let strict = TargetPolicy::INSTANCES;
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "169.254.169.254",
            "169.254.170.2",
            "fe80::1",
            "fd00:ec2::254",
            "100.100.100.200",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            // By meaning, not by list: protocol assignments, reserved, platform hosts.
            "192.0.0.192",
            "192.0.0.8",
            "240.0.0.1",
            "168.63.129.16",
            // IPv4 carried in IPv6: translated, 6to4, Teredo (server and client),
            // local-use NAT64.
            "::ffff:0:7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:a83f:8110::",
            "2001:0:7f00:1::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:0:4136:e378:8000:63bf:5601:5601",
            "64:ff9b:1::a9fe:a9fe",
            "fec0::1",
        ] {
            assert!(strict.check_ip(ip(bad)).is_err(), "{bad} was allowed");
        }
        for good in [
            "10.0.0.5",
            "192.168.1.20",
            "172.16.0.9",
            "8.8.8.8",
            "2001:db8::1",
            "100.64.0.1",
            "fd12:3456::1",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
            "64:ff9b::808:808",
        ] {
            assert!(strict.check_ip(ip(good)).is_ok(), "{good} was refused");
        }
    }

    #[test]
    fn allowing_loopback_allows_nothing_else() {
        let dev = TargetPolicy {
            allow_loopback: true,
            allow_private: false,
        };
        assert!(dev.check_ip(ip("127.0.0.1")).is_ok());
        assert!(dev.check_ip(ip("::1")).is_ok());
        assert!(dev.check_ip(ip("169.254.169.254")).is_err());
        assert!(dev.check_ip(ip("fd00:ec2::254")).is_err());
        assert!(dev.check_ip(ip("0.0.0.0")).is_err());
    }

    #[test]
    fn the_strict_policy_refuses_private_networks_in_every_spelling() {
        let strict = TargetPolicy::STRICT;
        for private in [
            "10.0.0.5",
            "10.255.255.255",
            "172.16.0.9",
            "172.31.255.1",
            "192.168.1.20",
            "fd12:3456::1",
            "fc00::1",
            "::ffff:10.0.0.1",
            "2002:c0a8:0101::1",
            "64:ff9b::ac10:1",
        ] {
            let refused = strict.check_ip(ip(private));
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|why| why.contains("private network")),
                "{private}: {refused:?}"
            );
            assert!(TargetPolicy::INSTANCES.check_ip(ip(private)).is_ok());
        }
        for public in [
            "172.32.0.1",
            "172.15.255.255",
            "8.8.8.8",
            "2001:db8::1",
            "fe00::1",
        ] {
            assert!(strict.check_ip(ip(public)).is_ok(), "{public} was refused");
        }
        assert!(strict.check_ip(ip("127.0.0.1")).is_err());
    }

    #[test]
    fn one_refused_address_refuses_the_host() {
        let strict = TargetPolicy::INSTANCES;
        assert!(strict.check_resolved("svc", &[ip("10.0.0.1")]).is_ok());
        let mixed = strict.check_resolved("svc", &[ip("10.0.0.1"), ip("169.254.169.254")]);
        assert!(mixed.is_err_and(|why| why.contains("169.254.169.254")));
        assert!(strict.check_resolved("svc", &[]).is_err());
    }

    #[test]
    fn ip_literals_are_recognised_in_both_families() {
        let v6 = TargetUrl::parse("http://[::1]:9/x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v6.ip_literal(), Some(ip("::1")));
        assert_eq!(v6.host(), "::1");
        let name = TargetUrl::parse("https://svc.internal/x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name.ip_literal(), None);
        assert_eq!(name.port(), 443);
    }
}
