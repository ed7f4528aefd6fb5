//! Email addresses and domain names: normalisation, validation and the small
//! pure helpers that threading and contact/instance linking rely on.
//!
//! Nothing here allocates more than the output it returns, and nothing uses a
//! regular expression: the scanners are single passes over the input.

use serde::{Deserialize, Serialize};

/// One mailbox from an address header (`From`, `To`, `Cc`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Decoded display name (RFC 2047 words decoded), `None` when absent or blank.
    pub name: Option<String>,
    /// The address itself, trimmed, without angle brackets and lower-cased.
    pub email: String,
}

impl Address {
    /// Builds an address from a raw display name and address, normalising both.
    /// Returns `None` when the address is empty after normalisation.
    ///
    /// An address with an `@` needs a non-empty local part and domain
    /// (`"x"@example.com>` garbage yields `@example.com`, which is refused);
    /// bare names such as `MAILER-DAEMON` are kept.
    pub fn new(name: Option<&str>, email: &str) -> Option<Self> {
        let email = normalize_email(email);
        if email.is_empty() {
            return None;
        }
        if let Some((local, domain)) = email.rsplit_once('@')
            && (local.is_empty() || domain.is_empty())
        {
            return None;
        }
        let name = name.map(|n| n.trim().trim_matches('"').trim()).filter(|n| !n.is_empty()).map(str::to_owned);
        Some(Self { name, email })
    }

    /// The domain part of the address (after the last `@`), if any.
    pub fn domain(&self) -> Option<&str> {
        email_domain(&self.email)
    }

    /// The local part of the address (before the last `@`), or the whole
    /// address when it has no `@`.
    pub fn local_part(&self) -> &str {
        self.email.rsplit_once('@').map_or(self.email.as_str(), |(local, _)| local)
    }
}

/// Normalises an address for storage and comparison: trims whitespace and
/// angle brackets and lower-cases it.
///
/// Lower-casing the local part is technically lossy (RFC 5321 lets it be
/// case-sensitive) but every real mail system treats it case-insensitively,
/// and contacts are keyed by the lower-cased address.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase()
}

/// The domain of an address: the part after the last `@`, if non-empty.
pub fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, domain)| domain).filter(|d| !d.is_empty())
}

/// Does `s` look like a bare `local@domain` address (no spaces, brackets
/// or quotes, one `@`, a valid domain)? Used to rescue addresses written as
/// a quoted display name only.
pub fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(|c: char| c.is_whitespace() || "<>\"(),;:@[]".contains(c))
        && is_valid_domain(&domain.to_ascii_lowercase())
}

/// Is `s` a syntactically valid host name in the RFC 1123 sense?
///
/// Rules: at least two dot-separated labels; each label 1–63 ASCII letters,
/// digits or hyphens, neither starting nor ending with a hyphen; total length
/// at most 253; the top-level label is not all digits (so `10.0.0.1` and
/// `1.5` are not domains). A trailing root dot is not accepted: normalise
/// before calling. Internationalised names must be given in their ASCII
/// (`xn--`) form.
pub fn is_valid_domain(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return false;
        }
        let bytes = label.as_bytes();
        if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
            return false;
        }
        if !bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && !last.bytes().all(|b| b.is_ascii_digit())
}

/// Second-level labels under which registrations happen one level deeper
/// (`example.co.uk`, `example.com.au`). Used to keep the "last two labels"
/// approximation of the organisational domain from treating every
/// `*.co.uk` as one organisation. Deliberately small: it is an
/// approximation of the Public Suffix List, not a copy of it.
const TWO_LABEL_SUFFIXES: &[&str] = &[
    "ac.uk", "co.uk", "gov.uk", "ltd.uk", "me.uk", "net.uk", "nhs.uk", "org.uk", "plc.uk", "sch.uk", "ac.jp", "co.jp",
    "go.jp", "ne.jp", "or.jp", "com.au", "edu.au", "gov.au", "net.au", "org.au", "co.nz", "org.nz", "ac.nz", "govt.nz",
    "com.br", "net.br", "org.br", "gov.br", "edu.br", "co.za", "org.za", "ac.za", "gov.za", "com.cn", "net.cn",
    "org.cn", "edu.cn", "gov.cn", "ac.cn", "com.tw", "org.tw", "edu.tw", "com.hk", "org.hk", "edu.hk", "co.in",
    "org.in", "ac.in", "gov.in", "net.in", "co.kr", "or.kr", "ac.kr", "go.kr", "com.mx", "org.mx", "edu.mx", "gob.mx",
    "com.ar", "org.ar", "gob.ar", "edu.ar", "co.il", "org.il", "ac.il", "gov.il", "com.sg", "edu.sg", "gov.sg",
    "com.tr", "org.tr", "edu.tr", "gen.tr", "com.pl", "org.pl", "co.at", "or.at", "ac.at", "gv.at", "com.es", "org.es",
    "edu.es", "gob.es",
];

/// Approximates the organisational domain (RFC 7489 §3.2) of `domain`: the
/// last two labels, or the last three when the last two are a well-known
/// second-level public suffix such as `co.uk`. The input is lower-cased.
pub fn organizational_domain(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() <= 2 {
        return domain;
    }
    let last_two = labels[labels.len() - 2..].join(".");
    let keep = if TWO_LABEL_SUFFIXES.contains(&last_two.as_str()) { 3 } else { 2 };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

/// Relaxed DMARC-style alignment between two domains: equal, one a
/// subdomain of the other, or sharing an organisational domain (see
/// [`organizational_domain`]). Comparison is case-insensitive; empty domains
/// never align.
pub fn domains_aligned(a: &str, b: &str) -> bool {
    let a = a.trim().trim_end_matches('.').to_ascii_lowercase();
    let b = b.trim().trim_end_matches('.').to_ascii_lowercase();
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b || is_subdomain_of(&a, &b) || is_subdomain_of(&b, &a) {
        return true;
    }
    let org_a = organizational_domain(&a);
    // A bare public suffix ("co.uk") is never an organisation of its own.
    org_a.contains('.') && org_a == organizational_domain(&b)
}

/// `child` is a proper subdomain of `parent` (`a.b.example` of `example`
/// would need `parent` to have two labels to be meaningful; callers pass
/// full domains).
fn is_subdomain_of(child: &str, parent: &str) -> bool {
    parent.contains('.')
        && child.len() > parent.len()
        && child.ends_with(parent)
        && child.as_bytes()[child.len() - parent.len() - 1] == b'.'
}

/// Finds the sub-address detail of a plus-addressed support address.
///
/// With `support_local = "support"`, the addresses
/// `support+social.example.edu@help.example` yields
/// `Some("social.example.edu")`. The first address (in order) whose local
/// part is `support_local` followed by `+` and a non-empty detail wins.
/// Comparison of the local part is case-insensitive; the detail is returned
/// trimmed and lower-cased. Angle brackets and surrounding whitespace around
/// each address are ignored.
pub fn plus_address_detail(addresses: &[String], support_local: &str) -> Option<String> {
    let support_local = support_local.trim();
    if support_local.is_empty() {
        return None;
    }
    addresses.iter().find_map(|raw| {
        let email = normalize_email(raw);
        let (local, _domain) = email.rsplit_once('@')?;
        let prefix_len = support_local.len();
        if local.len() <= prefix_len + 1 {
            return None;
        }
        let (head, tail) = local.split_at_checked(prefix_len)?;
        if !head.eq_ignore_ascii_case(support_local) {
            return None;
        }
        let detail = tail.strip_prefix('+')?.trim();
        (!detail.is_empty()).then(|| detail.to_owned())
    })
}

/// Host names mentioned in free text, lower-cased, deduplicated, in order of
/// first appearance.
///
/// One pass splits the text into tokens of letters, digits and
/// `. - _ + @`; each token is then classified:
/// * `@alice@social.example.edu` (a fediverse handle) — its domain is always
///   included, it names an instance;
/// * `alice@example.edu` (an email address) — its domain is included only
///   when `include_email_domains` is true;
/// * anything else — included when it is a valid domain (see
///   [`is_valid_domain`]) whose top-level label starts with a letter.
///
/// URLs need no special case: `https://social.example.edu/about` splits at
/// `:` and `/`. Trailing sentence punctuation (`.`, `-`) is trimmed. The
/// result can contain non-domains that happen to look like one (`notes.txt`);
/// callers match it against known domains.
pub fn mentioned_domains(text: &str, include_email_domains: bool) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut push = |candidate: &str| {
        let candidate = candidate.trim_matches(|c| c == '.' || c == '-');
        if candidate.len() > 253 {
            return;
        }
        let lower = candidate.to_ascii_lowercase();
        let tld_starts_with_letter =
            lower.rsplit('.').next().and_then(|tld| tld.bytes().next()).is_some_and(|b| b.is_ascii_alphabetic());
        if tld_starts_with_letter && is_valid_domain(&lower) && !found.contains(&lower) {
            found.push(lower);
        }
    };
    let is_token_char = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '@');
    for token in text.split(|c: char| !is_token_char(c)) {
        if token.is_empty() {
            continue;
        }
        match token.rsplit_once('@') {
            None => push(token),
            Some((before, domain)) => {
                let is_handle = token.starts_with('@') && before.len() > 1;
                let is_email = !token.starts_with('@') && !before.is_empty();
                if is_handle || (is_email && include_email_domains) {
                    push(domain);
                }
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn address_normalises_email_and_name() {
        let a = Address::new(Some("  \"Ada Lovelace\" "), " <Ada@Example.ORG> ").unwrap();
        assert_eq!(a.email, "ada@example.org");
        assert_eq!(a.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(a.domain(), Some("example.org"));
        assert_eq!(a.local_part(), "ada");
        assert!(Address::new(Some("x"), " <> ").is_none());
        assert!(Address::new(None, "@example.com").is_none());
        assert!(Address::new(None, "user@").is_none());
        assert_eq!(Address::new(None, "MAILER-DAEMON").unwrap().email, "mailer-daemon");
        assert!(is_plausible_email("finance@example.com"));
        assert!(!is_plausible_email("John Smith"));
        assert!(!is_plausible_email("a b@example.com"));
        assert!(!is_plausible_email("a@localhost"));
        assert_eq!(Address::new(Some("   "), "a@b.c").unwrap().name, None);
    }

    #[test]
    fn valid_domains() {
        for ok in [
            "example.com",
            "social.example.edu",
            "a.b",
            "xn--bcher-kva.example",
            "1password.com",
            "my-host.example.org",
            &format!("{}.com", "a".repeat(63)),
        ] {
            assert!(is_valid_domain(ok), "{ok} should be valid");
        }
    }

    #[test]
    fn invalid_domains() {
        let long = format!("{}.com", ["abcdefghi"; 26].join("."));
        assert!(long.len() > 253);
        for bad in [
            "",
            "localhost",
            "example.com.",
            ".example.com",
            "exa mple.com",
            "-example.com",
            "example-.com",
            "exa_mple.com",
            "example..com",
            "10.0.0.1",
            "1.5",
            "bücher.example",
            &format!("{}.com", "a".repeat(64)),
            &long,
        ] {
            assert!(!is_valid_domain(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn organizational_domain_approximation() {
        assert_eq!(organizational_domain("mail.example.com"), "example.com");
        assert_eq!(organizational_domain("Example.COM"), "example.com");
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("com"), "com");
    }

    #[test]
    fn relaxed_alignment() {
        assert!(domains_aligned("example.com", "EXAMPLE.com"));
        assert!(domains_aligned("mail.example.com", "example.com"));
        assert!(domains_aligned("bounce.example.com", "news.example.com"));
        assert!(!domains_aligned("example.com", "example.org"));
        assert!(!domains_aligned("evilexample.com", "example.com"));
        assert!(!domains_aligned("attacker.co.uk", "bank.co.uk"));
        assert!(domains_aligned("mail.bank.co.uk", "bank.co.uk"));
        assert!(!domains_aligned("", "example.com"));
    }

    #[test]
    fn plus_detail_found_in_any_address() {
        let to =
            vec!["Someone <someone@example.org>".to_owned(), " <Support+Social.Example.EDU@Help.Example> ".to_owned()];
        // The display-name form is not an address list parser's job: the
        // caller passes bare addresses; the first one simply does not match.
        assert_eq!(plus_address_detail(&to, "support").as_deref(), Some("social.example.edu"));
        assert_eq!(plus_address_detail(&to, "SUPPORT").as_deref(), Some("social.example.edu"));
    }

    #[test]
    fn plus_detail_requires_exact_local_and_detail() {
        let cases = [
            "support@help.example",
            "support+@help.example",
            "supportx+a@help.example",
            "helpdesk+a@help.example",
            "support+a",
        ];
        for case in cases {
            assert_eq!(plus_address_detail(&[case.to_owned()], "support"), None, "{case}");
        }
        assert_eq!(plus_address_detail(&["support+a@x.y".to_owned()], ""), None);
        assert_eq!(plus_address_detail(&["support+a+b@x.y".to_owned()], "support").as_deref(), Some("a+b"));
    }

    #[test]
    fn mentioned_domains_from_urls_handles_and_text() {
        let text = "Our instance https://Social.Example.EDU/about is down, \
                    see @admin@mastodon.example.org. Mail me at ops@example.net; \
                    also try social.example.edu again, version 4.2.1, ip 10.0.0.1.";
        assert_eq!(mentioned_domains(text, false), vec!["social.example.edu", "mastodon.example.org"]);
        assert_eq!(mentioned_domains(text, true), vec!["social.example.edu", "mastodon.example.org", "example.net"]);
    }

    #[test]
    fn mentioned_domains_ignores_non_domains() {
        assert!(mentioned_domains("v1.2 and 3.14 and a..b and @user and -.-", true).is_empty());
        assert!(mentioned_domains("", true).is_empty());
        // Non-ASCII letters stay inside the token, which is then not a valid
        // (ASCII) domain, rather than leaving a misleading "code.example.com".
        assert!(mentioned_domains("ünïcode.example.com", true).is_empty());
    }

    proptest! {
        #[test]
        fn plus_detail_round_trips(
            local in "[a-z][a-z0-9]{0,15}",
            detail in "[a-z0-9][a-z0-9.-]{0,40}",
            host in "[a-z]{1,10}\\.[a-z]{2,6}",
            upper in any::<bool>(),
        ) {
            let addr = format!("{local}+{detail}@{host}");
            let addr = if upper { addr.to_uppercase() } else { addr };
            let got = plus_address_detail(&[addr], &local);
            prop_assert_eq!(got, Some(detail));
        }

        #[test]
        fn mentioned_domains_finds_generated_domains(
            labels in proptest::collection::vec("[a-z][a-z0-9]{0,10}", 2..5),
            prefix in "[ ,;()]{1,3}",
        ) {
            let domain = labels.join(".");
            let text = format!("hello{prefix}{domain}. bye");
            prop_assert_eq!(mentioned_domains(&text, false), vec![domain]);
        }

        #[test]
        fn mentioned_domains_output_is_always_valid(text in ".{0,200}") {
            for d in mentioned_domains(&text, true) {
                prop_assert!(is_valid_domain(&d));
                prop_assert_eq!(d.to_ascii_lowercase(), d.clone());
            }
        }
    }
}
