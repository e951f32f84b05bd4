//! Failed sign-ins counted per client address, so that one client trying a
//! few passwords against many logins (spraying) is refused after a while,
//! whatever logins it tries. An IPv6 client counts by its /64, which one
//! machine can fill. Kept in memory: a restart forgets, the per-login lock
//! in the catalog does not.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ExchangeError;

/// The most addresses remembered; the oldest are forgotten first.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug, Default, Clone)]
pub struct AddressLimit(Arc<Mutex<HashMap<IpAddr, Entry>>>);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    since: Instant,
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

impl AddressLimit {
    /// `TooManyRequests` (code `sign_in_locked`) when `ip` has failed
    /// `limit` times within `window`; `limit` 0: no limit.
    pub fn check(&self, ip: Option<IpAddr>, limit: u32, window: Duration) -> Result<(), ExchangeError> {
        let (Some(ip), true) = (ip, limit > 0) else {
            return Ok(());
        };
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&key(ip)) {
            Some(e) if e.failures >= limit && e.since.elapsed() < window => Err(ExchangeError::TooManyRequests {
                code: super::error::code::SIGN_IN_LOCKED,
                detail: "too many failed sign-ins from this address; try again later".into(),
                retry_after_secs: window.saturating_sub(e.since.elapsed()).as_secs().max(1),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in from `ip`.
    pub fn failed(&self, ip: Option<IpAddr>, window: Duration) {
        let Some(ip) = ip else { return };
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ADDRESSES {
            map.retain(|_, e| e.since.elapsed() < window);
            if map.len() >= MAX_ADDRESSES {
                if let Some(oldest) = map.iter().min_by_key(|(_, e)| e.since).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        let now = Instant::now();
        let e = map.entry(key(ip)).or_insert(Entry {
            failures: 0,
            since: now,
        });
        if e.since.elapsed() >= window {
            *e = Entry {
                failures: 0,
                since: now,
            };
        }
        e.failures = e.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_limit_within_the_window() {
        let limit = AddressLimit::default();
        let window = Duration::from_secs(60);
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(Some(a), 3, window).is_ok());
            limit.failed(Some(a), window);
        }
        match limit.check(Some(a), 3, window) {
            Err(ExchangeError::TooManyRequests { retry_after_secs, .. }) => assert!(retry_after_secs > 50),
            other => panic!("{other:?}"),
        }
        assert!(limit.check(Some(b), 3, window).is_ok(), "another address is not");
        assert!(limit.check(Some(a), 0, window).is_ok(), "0: no limit");
        assert!(limit.check(None, 3, window).is_ok());
        // A window over: counted afresh.
        assert!(limit.check(Some(a), 3, Duration::ZERO).is_ok());
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let limit = AddressLimit::default();
        let window = Duration::from_secs(60);
        for i in 1..=3 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            limit.failed(Some(ip), window);
        }
        let same: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limit.check(Some(same), 3, window).is_err());
        assert!(limit.check(Some(other), 3, window).is_ok());
    }
}
