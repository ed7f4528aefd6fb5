//! The SMTP relay: `smtp.url` parsed and checked at start-up, and the pooled
//! lettre transport built from it (rustls only).
//!
//! | URL | transport |
//! |---|---|
//! | `smtp://host:port` | plain, upgraded with STARTTLS when the server offers it |
//! | `smtp://host:port?tls=required` | STARTTLS required; the send fails without it |
//! | `smtps://host:port` | implicit TLS (port 465 by default) |
//! | `smtp://127.0.0.1:port?tls=none` | never TLS: a relay on loopback |
//!
//! `user:password@` in the URL turns on authentication (percent-encoded
//! characters are decoded). The default port is 25 for `smtp://` and 465 for
//! `smtps://`. Certificates are checked against the webpki roots.

use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when the server offers it (the `smtp://` default).
    Opportunistic,
    /// STARTTLS or fail (`?tls=required`).
    Required,
    /// TLS from the first byte (`smtps://`).
    Implicit,
    /// Plain text (`?tls=none`), for a relay on loopback.
    None,
}

/// A parsed `smtp.url`. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// User name and password, decoded.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a `%` must be followed by two hex digits")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a `%` must be followed by two hex digits")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user info is not UTF-8 once decoded".to_owned())
}

impl SmtpUrl {
    /// Parses `smtp[s]://[user:pass@]host[:port][?tls=required|none]`; the
    /// error says what is wrong without repeating the password.
    pub fn parse(url: &str) -> Result<SmtpUrl, String> {
        let (scheme, rest) = url.split_once("://").ok_or("must look like smtp://HOST:PORT or smtps://HOST:PORT")?;
        let implicit = match scheme {
            "smtp" => false,
            "smtps" => true,
            other => return Err(format!("unsupported scheme `{other}`: use smtp:// or smtps://")),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        if authority.contains('/') {
            return Err("must not have a path (only smtp[s]://[USER:PASSWORD@]HOST[:PORT][?tls=…])".into());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let (user, pass) = u.split_once(':').ok_or("credentials must be USER:PASSWORD@")?;
                let user = percent_decode(user)?;
                if user.is_empty() {
                    return Err("the user name is empty".into());
                }
                Some((user, percent_decode(pass)?))
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("unterminated [IPv6] host")?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err("the host is missing".into());
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("`{p}` is not a port"))?,
            None if implicit => 465,
            None => 25,
        };
        let mut tls = if implicit { TlsMode::Implicit } else { TlsMode::Opportunistic };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("tls", "required")) if !implicit => tls = TlsMode::Required,
                Some(("tls", "none")) if !implicit => tls = TlsMode::None,
                Some(("tls", "opportunistic")) if !implicit => tls = TlsMode::Opportunistic,
                Some(("tls", v)) if implicit => {
                    return Err(format!("smtps:// always uses TLS; remove `tls={v}` or use smtp://"));
                }
                Some(("tls", v)) => return Err(format!("unknown tls mode `{v}` (use tls=required or tls=none)")),
                _ => return Err(format!("unknown parameter `{pair}` (only tls=required|none)")),
            }
        }
        Ok(SmtpUrl { host, port, tls, credentials })
    }

    /// True when the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `host:port` for logs.
    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Settings of the transport beyond the URL.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// EHLO name.
    pub hello_name: String,
    /// Connections kept in the pool.
    pub pool_size: u32,
    pub timeout: Duration,
}

/// The pooled async transport for the relay.
pub fn build_transport(
    url: &SmtpUrl,
    options: &TransportOptions,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls_parameters =
        || TlsParameters::new(url.host.clone()).map_err(|e| format!("cannot set up TLS for {}: {e}", url.host));
    let tls = match url.tls {
        TlsMode::None => Tls::None,
        TlsMode::Opportunistic => Tls::Opportunistic(tls_parameters()?),
        TlsMode::Required => Tls::Required(tls_parameters()?),
        TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
        .port(url.port)
        .tls(tls)
        .timeout(Some(options.timeout))
        .hello_name(ClientId::Domain(options.hello_name.clone()))
        // lettre hands a connection back to the pool from a spawned task,
        // after its sender has moved on: idle room for twice the senders
        // keeps the pool from closing connections it is about to reuse.
        .pool_config(
            PoolConfig::new().max_size(options.pool_size.saturating_mul(2)).idle_timeout(Duration::from_secs(60)),
        );
    if let Some((user, pass)) = &url.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(builder.build())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let u = SmtpUrl::parse("smtp://127.0.0.1:25").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.tls, u.credentials), ("127.0.0.1", 25, TlsMode::Opportunistic, None));
        let u = SmtpUrl::parse("smtp://relay.example.org:587?tls=required").unwrap();
        assert_eq!((u.port, u.tls), (587, TlsMode::Required));
        let u = SmtpUrl::parse("smtps://bob:p%40ss%3Aw@mail.example.org").unwrap();
        assert_eq!((u.port, u.tls), (465, TlsMode::Implicit));
        assert_eq!(u.credentials, Some(("bob".into(), "p@ss:w".into())));
        assert!(!format!("{u:?}").contains("p@ss"), "Debug hides the password");
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(u.tls, TlsMode::None);
        assert!(u.is_loopback());
        let u = SmtpUrl::parse("smtp://[::1]:2525/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 2525));
        assert!(u.is_loopback());
        assert_eq!(u.display(), "[::1]:2525");
        assert_eq!(SmtpUrl::parse("smtp://mx").unwrap().port, 25);
    }

    #[test]
    fn rejects_with_a_reason() {
        for (url, needle) in [
            ("http://x", "scheme"),
            ("mx.example.org", "smtp://"),
            ("smtp://:25", "host"),
            ("smtp://mx:0", "port"),
            ("smtp://mx:99999", "port"),
            ("smtp://mx?tls=maybe", "tls mode"),
            ("smtps://mx?tls=none", "always uses TLS"),
            ("smtp://mx?foo=1", "unknown parameter"),
            ("smtp://user@mx", "USER:PASSWORD"),
            ("smtp://u:p%zz@mx", "hex"),
            ("smtp://mx/path", "path"),
        ] {
            let err = SmtpUrl::parse(url).unwrap_err();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn builds_every_mode() {
        // The pooled transport spawns its maintenance task: it needs a runtime.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _rt = rt.enter();
        let options =
            TransportOptions { hello_name: "tusk.example".into(), pool_size: 2, timeout: Duration::from_secs(5) };
        for url in
            ["smtp://127.0.0.1:25", "smtp://mx:587?tls=required", "smtps://u:p@mx", "smtp://127.0.0.1:1?tls=none"]
        {
            build_transport(&SmtpUrl::parse(url).unwrap(), &options).unwrap();
        }
    }
}
