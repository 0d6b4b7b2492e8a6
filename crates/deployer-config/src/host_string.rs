//! Fabric-style host strings: `user@host:port`.
//!
//! Rules (Fabric 1 `network.py`, kept where sound, tightened where Fabric was lax):
//! - the user is split off at the **last** `@`, so `me@corp.com@web1` has user `me@corp.com`;
//! - an IPv6 address is written bare (`2001:db8::1`) or in brackets; brackets are
//!   needed only to attach a port (`[2001:db8::1]:2222`); zone ids (`%eth0`) are kept;
//! - otherwise the port follows the last `:`;
//! - empty parts mean "not given" (`@host`, `host:`), so ssh decides;
//! - unlike Fabric, ports must be numbers in 1–65535 and host names may not carry
//!   whitespace, shell metacharacters or a leading `-` (which ssh would read as an option).

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde::Serialize;

use crate::names::{check_user, describe, printable};

/// A parsed, validated host string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HostString {
    /// The user given in the host string, if any.
    pub user: Option<String>,
    /// Host name, IPv4 address, or IPv6 address without brackets.
    pub host: String,
    /// The port given in the host string, if any.
    pub port: Option<u16>,
}

/// Why a host string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host string `{input}`: {reason}")]
pub struct HostStringError {
    pub input: String,
    pub reason: String,
}

impl HostString {
    /// Whether the host is an IPv6 address (and so needs brackets to carry a port).
    pub fn is_ipv6(&self) -> bool {
        self.host.contains(':')
    }

    /// The host as ssh should receive it: IPv6 without brackets, zone id kept.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl FromStr for HostString {
    type Err = HostStringError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| HostStringError { input: printable(input), reason };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("the host string is empty".to_owned()));
        }
        let (user, host_port) = match trimmed.rsplit_once('@') {
            Some((user, rest)) => (Some(user).filter(|user| !user.is_empty()), rest),
            None => (None, trimmed),
        };
        if let Some(user) = user {
            check_user(user).map_err(fail)?;
        }
        let (host, port) = split_host_port(host_port).map_err(fail)?;
        check_host(host).map_err(fail)?;
        let port = match port {
            None | Some("") => None,
            Some(port) => Some(parse_port(port).map_err(fail)?),
        };
        Ok(Self { user: user.map(str::to_owned), host: host.to_owned(), port })
    }
}

fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = host_port.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("`[` without a closing `]`")?;
        if !inside.contains(':') {
            return Err(format!("brackets are only for IPv6 addresses, not `{}`", printable(inside)));
        }
        return match after {
            "" => Ok((inside, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((inside, Some(port))),
                None => Err(format!("unexpected `{}` after `]`", printable(after))),
            },
        };
    }
    // More than one `:` means a bare IPv6 address, which cannot carry a port.
    if host_port.matches(':').count() > 1 {
        return Ok((host_port, None));
    }
    Ok(match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if host.contains(':') {
        let (address, zone) = match host.split_once('%') {
            Some((address, zone)) => (address, Some(zone)),
            None => (host, None),
        };
        Ipv6Addr::from_str(address).map_err(|_| format!("`{}` is not a valid IPv6 address", printable(address)))?;
        if let Some(zone) = zone
            && (zone.is_empty() || !zone.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(format!("`{}` is not a valid IPv6 zone id", printable(zone)));
        }
        return Ok(());
    }
    if host.starts_with('-') {
        return Err("the host starts with `-`, which ssh would read as an option".to_owned());
    }
    if let Some(bad) = host.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))) {
        return Err(format!("the host contains {}", describe(bad)));
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters".to_owned());
    }
    if host.starts_with('.') || host.contains("..") {
        return Err("the host name has an empty label".to_owned());
    }
    Ok(())
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port `{}` is not a number from 1 to 65535", printable(port))),
        Ok(port) => Ok(port),
    }
}

impl fmt::Display for HostString {
    /// Writes the canonical form; IPv6 gets brackets only when a port follows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        match self.port {
            Some(port) if self.is_ipv6() => write!(f, "[{}]:{port}", self.host),
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> (Option<String>, String, Option<u16>) {
        let parsed: HostString = input.parse().unwrap_or_else(|error| panic!("{input}: {error}"));
        (parsed.user, parsed.host, parsed.port)
    }

    #[allow(clippy::unnecessary_wraps)] // reads as the `Some(..)` it stands for
    fn some(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    #[test]
    fn names_and_ipv4() {
        assert_eq!(parse("web1"), (None, "web1".into(), None));
        assert_eq!(parse("web1.example.com:2222"), (None, "web1.example.com".into(), Some(2222)));
        assert_eq!(parse("deploy@web1"), (some("deploy"), "web1".into(), None));
        assert_eq!(parse("deploy@10.0.0.5:22"), (some("deploy"), "10.0.0.5".into(), Some(22)));
        assert_eq!(parse("  web1  "), (None, "web1".into(), None));
        assert_eq!(parse("ssh_alias"), (None, "ssh_alias".into(), None));
    }

    #[test]
    fn empty_parts_mean_not_given() {
        assert_eq!(parse("@web1"), (None, "web1".into(), None));
        assert_eq!(parse("web1:"), (None, "web1".into(), None));
    }

    #[test]
    fn user_is_split_at_the_last_at() {
        assert_eq!(parse("me@corp.com@web1"), (some("me@corp.com"), "web1".into(), None));
        assert_eq!(parse("me@corp.com@web1:2200"), (some("me@corp.com"), "web1".into(), Some(2200)));
    }

    #[test]
    fn ipv6_in_every_form() {
        assert_eq!(parse("::1"), (None, "::1".into(), None));
        assert_eq!(parse("[::1]"), (None, "::1".into(), None));
        assert_eq!(parse("[::1]:2222"), (None, "::1".into(), Some(2222)));
        assert_eq!(parse("2001:db8::1"), (None, "2001:db8::1".into(), None));
        assert_eq!(parse("user@2001:db8::1"), (some("user"), "2001:db8::1".into(), None));
        assert_eq!(parse("user@[2001:db8::1]:1222"), (some("user"), "2001:db8::1".into(), Some(1222)));
        assert_eq!(parse("fe80::1%eth0"), (None, "fe80::1%eth0".into(), None));
        assert_eq!(parse("[fe80::1%eth0]:22"), (None, "fe80::1%eth0".into(), Some(22)));
        assert_eq!(parse("::ffff:10.0.0.1"), (None, "::ffff:10.0.0.1".into(), None));
    }

    #[test]
    fn a_bare_ipv6_address_never_carries_a_port() {
        // `2001:db8::1:22` is a valid address ending in `:1:22`, not port 22.
        assert_eq!(parse("2001:db8::1:22"), (None, "2001:db8::1:22".into(), None));
    }

    #[test]
    fn displays_canonically() {
        for (input, shown) in [
            ("web1", "web1"),
            ("u@web1:2222", "u@web1:2222"),
            ("[::1]", "::1"),
            ("[::1]:2222", "[::1]:2222"),
            ("me@corp.com@[2001:db8::1]:1222", "me@corp.com@[2001:db8::1]:1222"),
        ] {
            assert_eq!(input.parse::<HostString>().unwrap().to_string(), shown);
        }
    }

    #[test]
    fn refuses_hostile_or_malformed_input() {
        for bad in [
            "",
            "   ",
            "-oProxyCommand=touch /tmp/pwned",
            "web1;id",
            "web1 web2",
            "web$(id)",
            "web`id`",
            "web1:abc",
            "web1:0",
            "web1:65536",
            "[web1]:22",
            "[::1",
            "[::1]x",
            "::zz::1",
            "-x@web1",
            "a b@web1",
            "fe80::1%",
            "web\u{1b}[31m",
            ".web",
            "web..example",
        ] {
            assert!(bad.parse::<HostString>().is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn bracketed_empty_port_is_allowed_like_fabric() {
        // `[::1]:` has an empty port part, which Fabric reads as "no port".
        assert!("[::1]:".parse::<HostString>().is_ok());
    }
}
