//! Parsing of join targets: `ip:port`, `[v6]:port`, bare `ip`, `host:port`
//! or bare `host` (the local port is then used).

use core::net::{IpAddr, SocketAddr};

use crate::error::JoinError;

/// Longest domain name accepted.
const MAX_NAME_LEN: usize = 253;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Addr(SocketAddr),
    Name { host: String, port: u16 },
}

pub(crate) fn parse(target: &str, default_port: u16) -> Result<Target, JoinError> {
    let invalid = |reason| JoinError::InvalidTarget {
        target: target.to_owned(),
        reason,
    };
    let t = target.trim();
    if t.is_empty() {
        return Err(invalid("empty"));
    }
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(Target::Addr(addr));
    }
    let bare = t
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(t);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Target::Addr(SocketAddr::new(ip, default_port)));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>().map_err(|_| invalid("invalid port"))?,
        ),
        None => (t, default_port),
    };
    let valid = !host.is_empty()
        && host.len() <= MAX_NAME_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid {
        return Err(invalid("not an IP address or a domain name"));
    }
    Ok(Target::Name {
        host: host.to_ascii_lowercase(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_form_parses() {
        let addr = |s: &str| Target::Addr(s.parse().unwrap());
        assert_eq!(parse("10.0.0.1:7001", 7000), Ok(addr("10.0.0.1:7001")));
        assert_eq!(parse("10.0.0.1", 7000), Ok(addr("10.0.0.1:7000")));
        assert_eq!(parse("[::1]:7001", 7000), Ok(addr("[::1]:7001")));
        assert_eq!(parse("::1", 7000), Ok(addr("[::1]:7000")));
        assert_eq!(parse("[::1]", 7000), Ok(addr("[::1]:7000")));
        assert_eq!(
            parse("Kite.svc.local:7002", 7000),
            Ok(Target::Name {
                host: "kite.svc.local".into(),
                port: 7002
            })
        );
        assert_eq!(
            parse("kite", 7000),
            Ok(Target::Name {
                host: "kite".into(),
                port: 7000
            })
        );
    }

    #[test]
    fn bad_targets_are_typed_errors() {
        for bad in [
            "",
            "  ",
            "host:99999",
            "host:",
            "bad host",
            "a/b:1",
            ":7000",
        ] {
            assert!(
                matches!(parse(bad, 7000), Err(JoinError::InvalidTarget { .. })),
                "{bad:?}"
            );
        }
    }
}
