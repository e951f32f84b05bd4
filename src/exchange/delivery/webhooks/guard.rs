//! Where webhooks may go: not to the hub's own machine or networks (SSRF).
//! A URL's host is resolved and every address it stands for must be public,
//! when a subscription is made and again at every connection, since DNS can
//! change. The operator may allow some networks despite the rule.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use url::{Host, Url};

/// What the operator allows webhooks (by default: no internal network, and
/// no cap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Networks deliveries may reach although the rule below refuses them
    /// (e.g. a receiver on the hub's own network, or loopback in tests).
    pub allow: Vec<IpNet>,
    /// Live subscriptions one subscriber (a station, or the operator) may
    /// have; 0: no cap.
    pub max_per_subscriber: usize,
}

impl WebhookPolicy {
    /// Parses an allow list: CIDR networks or single addresses, separated by
    /// commas or white space (`"127.0.0.0/8, ::1"`); empty allows nothing.
    pub fn parse_allow(text: &str) -> Result<Vec<IpNet>, String> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| format!("`{s}` is not an IP network (like 10.1.0.0/16) or address"))
            })
            .collect()
    }

    /// Whether deliveries may go to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        !is_internal(canonical) || self.allow.iter().any(|n| n.contains(&canonical) || n.contains(&ip))
    }
}

/// Whether `ip` is one that a webhook must not reach: the hub's own machine,
/// private and shared networks, link-local, multicast, broadcast, and the
/// ranges reserved for documentation, benchmarks and protocols. IPv6 forms of
/// IPv4 addresses are judged by the IPv4 address they carry.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

/// IPv4 ranges refused (IANA special-purpose registry, and multicast).
const V4: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),       // "this network", 0.0.0.0
    ([10, 0, 0, 0], 8),      // private (RFC 1918)
    ([100, 64, 0, 0], 10),   // shared, carrier-grade NAT (RFC 6598)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, cloud metadata
    ([172, 16, 0, 0], 12),   // private (RFC 1918)
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private (RFC 1918)
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the broadcast 255.255.255.255
];

/// IPv6 ranges refused; IPv4-mapped addresses were turned into IPv4 before.
const V6: &[(u128, u32)] = &[
    (0, 96),                                         // unspecified, loopback, IPv4-compatible
    (0x0000_0000_0000_0000_ffff_0000_0000_0000, 96), // IPv4-translated (RFC 2765)
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48), // local-use NAT64
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // discard-only
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // IETF protocols: Teredo, benchmarking, ORCHID
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // documentation
    (0x2002_0000_0000_0000_0000_0000_0000_0000, 16), // 6to4, which carries an IPv4 address
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // documentation
    (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16), // segment routing (SRv6)
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // unique local (private)
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // link-local
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10), // site-local (deprecated)
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // multicast
];

/// The NAT64 well-known prefix: its addresses carry an IPv4 address.
const NAT64: (u128, u32) = (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96);

fn internal_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    V4.iter().any(|&(net, len)| {
        let mask = u32::MAX << (32 - len);
        ip & mask == u32::from_be_bytes(net) & mask
    })
}

fn in_v6(ip: u128, (net, len): (u128, u32)) -> bool {
    let mask = u128::MAX << (128 - len);
    ip & mask == net & mask
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    if in_v6(bits, NAT64) {
        return internal_v4(Ipv4Addr::from(bits as u32));
    }
    V6.iter().any(|&range| in_v6(bits, range))
}

/// Why a destination was refused. The words shown to a subscriber are the
/// same for both ([`Refusal::shown`]), so that subscribing cannot probe
/// which internal names exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "must not point to the hub's own machine or networks: loopback, private, link-local, shared, \
         multicast and reserved addresses are refused"
    )]
    Internal,
    #[error("the host name does not resolve")]
    Unresolved,
}

/// The delivery log's words for an attempt the rule refused.
pub const REFUSED: &str = "refused: the address is not one webhooks may reach";

/// Turns a host name into addresses; the system's resolver, or a stub in tests.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
}

/// The system's resolver (`getaddrinfo`, on a blocking thread).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_owned();
        Box::pin(async move { Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// How long a subscription waits for its host name to resolve.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The policy with a resolver: judges URLs, and is the DNS resolver of the
/// delivery client, so that every connection is judged where it is made.
#[derive(Clone)]
pub struct Guard {
    policy: Arc<WebhookPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl Guard {
    pub fn new(policy: WebhookPolicy, lookup: Arc<dyn Lookup>) -> Self {
        Self {
            policy: Arc::new(policy),
            lookup,
        }
    }

    pub fn policy(&self) -> &WebhookPolicy {
        &self.policy
    }

    /// The addresses of `host`, if deliveries may reach every one of them: a
    /// name that also resolves to an internal address is refused whole.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, Refusal> {
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, self.lookup.lookup(host))
            .await
            .map_err(|_| Refusal::Unresolved)?
            .map_err(|_| Refusal::Unresolved)?;
        if found.is_empty() {
            Err(Refusal::Unresolved)
        } else if found.iter().all(|ip| self.policy.permits(*ip)) {
            Ok(found)
        } else {
            Err(Refusal::Internal)
        }
    }

    /// Judges an IP-literal host without a lookup; `None` for a name (which
    /// the resolver judges when connecting).
    pub fn judge_literal(&self, url: &Url) -> Option<Result<(), Refusal>> {
        let ip = match url.host()? {
            Host::Ipv4(ip) => IpAddr::V4(ip),
            Host::Ipv6(ip) => IpAddr::V6(ip),
            Host::Domain(_) => return None,
        };
        Some(if self.policy.permits(ip) {
            Ok(())
        } else {
            Err(Refusal::Internal)
        })
    }

    /// Judges `url`'s host: an IP literal as it is, a name by what it
    /// resolves to now.
    pub async fn check(&self, url: &Url) -> Result<(), Refusal> {
        match (self.judge_literal(url), url.host_str()) {
            (Some(judged), _) => judged,
            (None, Some(name)) => self.addresses(name).await.map(drop),
            (None, None) => Err(Refusal::Unresolved),
        }
    }
}

/// The error the delivery client's resolver fails with when it refuses.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub Refusal);

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let found = guard.addresses(name.as_str()).await.map_err(Refused)?;
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

impl Refusal {
    /// What the subscriber is told, whichever it was.
    pub fn shown(self) -> &'static str {
        "must be a public address that resolves: loopback, private, link-local, shared, multicast and \
         reserved addresses are refused, and so are names that do not resolve"
    }
}

/// Whether an error of the delivery client comes from the rule's refusal of
/// an internal address (final). A name that does not resolve is not: DNS
/// may answer on the next attempt, which is retried as any failure.
pub fn is_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(Refused(why)) = c.downcast_ref::<Refused>() {
            return *why == Refusal::Internal;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_ipv4_ranges_are_refused() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_internal(ip(s)), "{s}");
            assert!(!WebhookPolicy::default().permits(ip(s)), "{s}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.0.1",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.1.1",
            "192.169.0.1",
            "198.17.0.1",
            "198.20.0.1",
            "203.113.131.1",
            "223.255.255.255",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "2402:800::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_internal(ip(s)), "{s}");
            assert!(WebhookPolicy::default().permits(ip(s)), "{s}");
        }
    }

    #[test]
    fn internal_ipv6_ranges_and_ipv4_in_ipv6_forms_are_refused() {
        for s in [
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.1.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::ffff:0:10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(is_internal(ip(s)), "{s}");
            assert!(!WebhookPolicy::default().permits(ip(s)), "{s}");
        }
    }

    #[test]
    fn the_allow_list_lets_chosen_networks_through() {
        let policy = WebhookPolicy {
            allow: WebhookPolicy::parse_allow("127.0.0.0/8, ::1  10.1.2.3").unwrap(),
            ..Default::default()
        };
        for s in ["127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "::1", "10.1.2.3"] {
            assert!(policy.permits(ip(s)), "{s}");
        }
        for s in ["10.1.2.4", "192.168.1.1", "169.254.169.254", "fe80::1", "::2"] {
            assert!(!policy.permits(ip(s)), "{s}");
        }
        assert_eq!(WebhookPolicy::parse_allow("").unwrap(), vec![]);
        assert_eq!(
            WebhookPolicy::parse_allow("10.1.2.3/8").unwrap(),
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        for bad in ["10.0.0.0/33", "localhost", "10.0.0", "::1/129"] {
            assert!(WebhookPolicy::parse_allow(bad).is_err(), "{bad}");
        }
    }

    /// A resolver that knows a few names and sends nothing anywhere.
    struct Stub(HashMap<&'static str, Vec<IpAddr>>);

    impl Lookup for Stub {
        fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
            let found = self.0.get(host).cloned();
            Box::pin(async move { found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name")) })
        }
    }

    fn stub_guard(policy: WebhookPolicy) -> Guard {
        Guard::new(
            policy,
            Arc::new(Stub(HashMap::from([
                (
                    "internal.example",
                    vec![ip("10.0.0.1"), ip("192.168.1.1"), ip("169.254.169.254")],
                ),
                ("mixed.example", vec![ip("93.184.215.14"), ip("10.0.0.1")]),
                ("public.example", vec![ip("93.184.215.14"), ip("2606:2800:21f:cb07::1")]),
                ("loopback.example", vec![ip("127.0.0.1")]),
            ]))),
        )
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        let guard = stub_guard(WebhookPolicy::default());
        assert_eq!(
            guard.check(&url("https://internal.example/hook")).await,
            Err(Refusal::Internal)
        );
        assert_eq!(
            guard.check(&url("https://mixed.example/hook")).await,
            Err(Refusal::Internal),
            "one internal address refuses the name"
        );
        assert_eq!(guard.check(&url("https://public.example/hook")).await, Ok(()));
        assert_eq!(
            guard.check(&url("https://unknown.example/hook")).await,
            Err(Refusal::Unresolved)
        );
        // IP literals, whatever their spelling, are judged without a lookup.
        for s in [
            "http://127.0.0.1:1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://[::1]:1/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            assert_eq!(guard.judge_literal(&url(s)), Some(Err(Refusal::Internal)), "{s}");
        }
        assert_eq!(guard.judge_literal(&url("http://93.184.215.14/")), Some(Ok(())));
        assert_eq!(guard.judge_literal(&url("http://public.example/")), None);
    }

    #[tokio::test]
    async fn the_delivery_resolver_refuses_internal_addresses() {
        use reqwest::dns::Resolve;
        let guard = stub_guard(WebhookPolicy::default());
        let e = match guard.resolve("internal.example".parse().unwrap()).await {
            Ok(_) => panic!("internal.example resolved"),
            Err(e) => e,
        };
        assert!(is_refusal(&*e), "{e}");
        // A name that does not resolve (a DNS hiccup, say) is no refusal:
        // the delivery is tried again later.
        let e = match guard.resolve("unknown.example".parse().unwrap()).await {
            Ok(_) => panic!("unknown.example resolved"),
            Err(e) => e,
        };
        assert!(!is_refusal(&*e), "{e}");
        assert_eq!(Refusal::Internal.shown(), Refusal::Unresolved.shown());
        let addrs: Vec<SocketAddr> = guard
            .resolve("public.example".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs.len(), 2);
    }

    #[tokio::test]
    async fn the_delivery_client_refuses_before_connecting() {
        // A name the stub maps to a loopback listener: a client with the guard
        // as its resolver must fail without the listener seeing a connection.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(stub_guard(WebhookPolicy::default())))
            .build()
            .unwrap();
        let e = client
            .post(format!("http://loopback.example:{port}/hook"))
            .send()
            .await
            .unwrap_err();
        assert!(is_refusal(&e), "{e:?}");
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the listener was reached");
    }
}
