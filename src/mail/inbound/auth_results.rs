//! `Authentication-Results` (RFC 8601): parse the header and decide whether
//! the `From` domain was authenticated by *our* receiving MTA.
//!
//! Anybody can put an `Authentication-Results` header into a message, so only
//! a header carrying the configured authserv-id counts, and of those only the
//! first one (the topmost, i.e. the one our MTA prepended last): a sender can
//! forge a header with our authserv-id further down when the MTA does not
//! strip it (RFC 8601 §5 asks it to, not every MTA does).

use serde::{Deserialize, Serialize};

use super::address::{domains_aligned, email_domain};

/// Outcome of one authentication method as reported by the MTA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthOutcome {
    /// No trusted result for the method was present at all.
    Missing,
    /// `pass`
    Pass,
    /// `fail` (for SPF also `softfail`)
    Fail,
    /// `none`: nothing to evaluate (e.g. no DMARC record published).
    None,
    /// `neutral`, `policy`, `temperror`, `permerror` or an unknown keyword,
    /// lower-cased.
    Other(String),
}

impl AuthOutcome {
    fn from_keyword(keyword: &str) -> Self {
        match keyword.to_ascii_lowercase().as_str() {
            "pass" => Self::Pass,
            "fail" | "softfail" | "hardfail" => Self::Fail,
            "none" => Self::None,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// What the trusted `Authentication-Results` say about the `From` domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderTrust {
    /// The DMARC verdict for the `From` domain.
    pub dmarc: AuthOutcome,
    /// SPF passed for an envelope sender (`smtp.mailfrom`) aligned with the `From` domain.
    pub spf_aligned: bool,
    /// A DKIM signature passed with a signing domain (`header.d`/`header.i`) aligned with the `From` domain.
    pub dkim_aligned: bool,
    /// DMARC passed, or SPF or DKIM passed aligned: the `From` domain is authentic.
    pub aligned: bool,
}

/// One `method=result` entry with its properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodResult {
    /// Method name, lower-cased, version suffix removed (`dkim`, `spf`, `dmarc`, …).
    pub method: String,
    /// Result keyword, lower-cased (`pass`, `fail`, …).
    pub result: String,
    /// `reason=` text, if given.
    pub reason: Option<String>,
    /// `ptype.property=value` pairs in order; the key is lower-cased
    /// (`header.from`, `smtp.mailfrom`, `header.d`, …), the value keeps its case.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The first value of a property such as `header.from`.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

/// A parsed `Authentication-Results` header value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationResults {
    /// The authserv-id: who made these claims.
    pub authserv_id: String,
    /// The results; empty for `none` ("no authentication was done").
    pub results: Vec<MethodResult>,
}

/// A lexical token of the header after comments are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

/// Splits a header value into tokens, dropping (nested) comments and
/// honouring quoted strings and backslash escapes.
fn tokenize(value: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut chars = value.chars();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut tokens);
                let mut depth = 1usize;
                while depth > 0 {
                    match chars.next() {
                        Some('\\') => {
                            chars.next();
                        }
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            '"' => {
                flush(&mut word, &mut tokens);
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => {
                            if let Some(escaped) = chars.next() {
                                quoted.push(escaped);
                            }
                        }
                        Some('"') | None => break,
                        Some(other) => quoted.push(other),
                    }
                }
                tokens.push(Token::Quoted(quoted));
            }
            '=' => {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Equals);
            }
            ';' => {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Semicolon);
            }
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// Parses one `Authentication-Results` header value. Returns `None` when it
/// has no authserv-id.
pub fn parse(value: &str) -> Option<AuthenticationResults> {
    let tokens = tokenize(value);
    let mut segments = tokens.split(|t| *t == Token::Semicolon);
    let authserv_id = match segments.next()?.first()? {
        Token::Word(w) | Token::Quoted(w) => w.to_ascii_lowercase(),
        _ => return None,
    };
    let mut results = Vec::new();
    for segment in segments {
        if let Some(result) = parse_resinfo(segment) {
            results.push(result);
        }
    }
    Some(AuthenticationResults { authserv_id, results })
}

/// Parses `method[/version]=result [reason=x] [ptype.prop=value]...`;
/// unknown keys without a dot are ignored.
fn parse_resinfo(segment: &[Token]) -> Option<MethodResult> {
    let pairs = key_value_pairs(segment);
    let mut iter = pairs.into_iter();
    let (method_key, result) = iter.next()?;
    let method = method_key.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if method.is_empty() || method.contains('.') {
        return None;
    }
    let mut out = MethodResult { method, result: result.to_ascii_lowercase(), reason: None, properties: Vec::new() };
    for (key, value) in iter {
        let key = key.to_ascii_lowercase();
        if key == "reason" {
            out.reason = Some(value);
        } else if key.contains('.') {
            out.properties.push((key, value));
        }
    }
    Some(out)
}

/// Turns `Word Equals (Word|Quoted)` triples into pairs, skipping stray tokens.
fn key_value_pairs(segment: &[Token]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < segment.len() {
        if let (Some(Token::Word(key)), Some(Token::Equals)) = (segment.get(i), segment.get(i + 1)) {
            match segment.get(i + 2) {
                Some(Token::Word(v)) | Some(Token::Quoted(v)) => {
                    pairs.push((key.clone(), v.clone()));
                    i += 3;
                    continue;
                }
                _ => {
                    pairs.push((key.clone(), String::new()));
                    i += 2;
                    continue;
                }
            }
        }
        i += 1;
    }
    pairs
}

/// The domain part of a property value that may be an address
/// (`smtp.mailfrom=bounces@example.com`, `header.i=@example.com`) or a bare
/// domain (`header.d=example.com`).
fn value_domain(value: &str) -> &str {
    let v = value.trim().trim_matches(|c| c == '<' || c == '>');
    email_domain(v).unwrap_or(v)
}

/// Evaluates the raw `Authentication-Results` values of a message (in header
/// order, topmost first) for the `From` domain `from_domain`.
///
/// Only the first header whose authserv-id equals `authserv_id`
/// (case-insensitive) is used; everything else is forgeable by the sender.
/// DMARC results naming a different `header.from` are ignored. SPF and DKIM
/// count as aligned under relaxed alignment (see
/// [`domains_aligned`](super::address::domains_aligned)).
pub fn evaluate(values: &[String], authserv_id: &str, from_domain: &str) -> SenderTrust {
    let authserv_id = authserv_id.trim();
    let trusted = values
        .iter()
        .filter_map(|v| parse(v))
        .find(|h| !authserv_id.is_empty() && h.authserv_id.eq_ignore_ascii_case(authserv_id));
    let mut trust =
        SenderTrust { dmarc: AuthOutcome::Missing, spf_aligned: false, dkim_aligned: false, aligned: false };
    let (Some(header), false) = (trusted, from_domain.trim().is_empty()) else {
        return trust;
    };
    let from_domain = from_domain.trim();
    for result in &header.results {
        let passed = result.result == "pass";
        match result.method.as_str() {
            "dmarc" => {
                let names_other_domain =
                    result.property("header.from").is_some_and(|d| !value_domain(d).eq_ignore_ascii_case(from_domain));
                if names_other_domain {
                    continue;
                }
                let outcome = AuthOutcome::from_keyword(&result.result);
                // A pass anywhere wins; otherwise keep the first verdict.
                if outcome == AuthOutcome::Pass || trust.dmarc == AuthOutcome::Missing {
                    trust.dmarc = outcome;
                }
            }
            "spf" if passed => {
                if let Some(mailfrom) = result.property("smtp.mailfrom") {
                    trust.spf_aligned |= domains_aligned(value_domain(mailfrom), from_domain);
                }
            }
            "dkim" if passed => {
                let signer = result.property("header.d").or_else(|| result.property("header.i"));
                if let Some(signer) = signer {
                    trust.dkim_aligned |= domains_aligned(value_domain(signer), from_domain);
                }
            }
            _ => {}
        }
    }
    trust.aligned = trust.dmarc == AuthOutcome::Pass || trust.spf_aligned || trust.dkim_aligned;
    trust
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn parses_gmail_style_header_with_comments() {
        let h = parse(
            "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=sel header.b=abc;\r\n \
             spf=pass (google.com: domain of bounce@example.com designates 1.2.3.4 as permitted sender) \
             smtp.mailfrom=bounce@example.com;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
        )
        .unwrap();
        assert_eq!(h.authserv_id, "mx.google.com");
        assert_eq!(h.results.len(), 3);
        assert_eq!(h.results[0].method, "dkim");
        assert_eq!(h.results[0].property("header.i"), Some("@example.com"));
        assert_eq!(h.results[1].result, "pass");
        assert_eq!(h.results[1].property("smtp.mailfrom"), Some("bounce@example.com"));
        assert_eq!(h.results[2].property("header.from"), Some("example.com"));
    }

    #[test]
    fn parses_version_quoted_strings_reason_and_none() {
        let h = parse(
            "example.org 1; auth=pass (cram-md5) smtp.auth=sender@example.net; \
             dkim/1 = fail reason=\"bad; signature\" header.d = \"example.net\"",
        )
        .unwrap();
        assert_eq!(h.authserv_id, "example.org");
        assert_eq!(h.results[1].method, "dkim");
        assert_eq!(h.results[1].result, "fail");
        assert_eq!(h.results[1].reason.as_deref(), Some("bad; signature"));
        assert_eq!(h.results[1].property("header.d"), Some("example.net"));

        let none = parse("example.org (comment); none").unwrap();
        assert_eq!(none.authserv_id, "example.org");
        assert!(none.results.is_empty());
        assert_eq!(parse("   "), None);
        assert_eq!(parse("(only a comment)"), None);
    }

    #[test]
    fn dmarc_pass_from_trusted_server_is_aligned() {
        let values = [s("mx.tusk.example; dmarc=pass header.from=example.edu")];
        let t = evaluate(&values, "MX.tusk.example", "example.edu");
        assert_eq!(t.dmarc, AuthOutcome::Pass);
        assert!(t.aligned);
        assert!(!t.spf_aligned && !t.dkim_aligned);
    }

    #[test]
    fn forged_header_with_other_authserv_id_is_ignored() {
        let values = [
            s(
                "evil.example; dmarc=pass header.from=example.edu; spf=pass smtp.mailfrom=a@example.edu; dkim=pass header.d=example.edu",
            ),
            s("mx.tusk.example; dmarc=fail header.from=example.edu; spf=fail smtp.mailfrom=x@example.edu"),
        ];
        let t = evaluate(&values, "mx.tusk.example", "example.edu");
        assert_eq!(t.dmarc, AuthOutcome::Fail);
        assert!(!t.aligned && !t.spf_aligned && !t.dkim_aligned);
    }

    #[test]
    fn only_topmost_trusted_header_counts() {
        // The lower header carries our id but was inserted by the sender.
        let values = [
            s("mx.tusk.example; spf=fail smtp.mailfrom=x@example.edu"),
            s("mx.tusk.example; dmarc=pass header.from=example.edu"),
        ];
        let t = evaluate(&values, "mx.tusk.example", "example.edu");
        assert_eq!(t.dmarc, AuthOutcome::Missing);
        assert!(!t.aligned);
    }

    #[test]
    fn no_trusted_header_means_missing() {
        let t = evaluate(&[], "mx.tusk.example", "example.edu");
        assert_eq!(t.dmarc, AuthOutcome::Missing);
        assert!(!t.aligned);
        let values = [s("mx.tusk.example; dmarc=pass header.from=example.edu")];
        assert!(!evaluate(&values, "", "example.edu").aligned);
        assert!(!evaluate(&values, "mx.tusk.example", "").aligned);
    }

    #[test]
    fn spf_alignment_is_relaxed_but_not_cross_domain() {
        let aligned = [s("mx.t; spf=pass smtp.mailfrom=bounces@mail.example.edu")];
        assert!(evaluate(&aligned, "mx.t", "example.edu").spf_aligned);
        let foreign = [s("mx.t; spf=pass smtp.mailfrom=bounces@sendgrid.example")];
        let t = evaluate(&foreign, "mx.t", "example.edu");
        assert!(!t.spf_aligned && !t.aligned);
        let softfail = [s("mx.t; spf=softfail smtp.mailfrom=a@example.edu")];
        assert!(!evaluate(&softfail, "mx.t", "example.edu").spf_aligned);
    }

    #[test]
    fn dkim_uses_header_d_then_header_i() {
        let d = [s("mx.t; dkim=pass header.d=example.edu header.s=x")];
        assert!(evaluate(&d, "mx.t", "news.example.edu").dkim_aligned);
        let i = [s("mx.t; dkim=pass header.i=@lists.example.edu")];
        assert!(evaluate(&i, "mx.t", "example.edu").dkim_aligned);
        let other = [s("mx.t; dkim=pass header.d=mailchimp.example; dkim=fail header.d=example.edu")];
        let t = evaluate(&other, "mx.t", "example.edu");
        assert!(!t.dkim_aligned && !t.aligned);
    }

    #[test]
    fn dmarc_for_another_from_domain_is_ignored() {
        let v = [s("mx.t; dmarc=pass header.from=attacker.example")];
        let t = evaluate(&v, "mx.t", "example.edu");
        assert_eq!(t.dmarc, AuthOutcome::Missing);
        assert!(!t.aligned);
        let none = [s("mx.t; dmarc=none header.from=example.edu")];
        assert_eq!(evaluate(&none, "mx.t", "example.edu").dmarc, AuthOutcome::None);
        let temp = [s("mx.t; dmarc=temperror header.from=example.edu")];
        assert_eq!(evaluate(&temp, "mx.t", "example.edu").dmarc, AuthOutcome::Other("temperror".to_owned()));
    }

    #[test]
    fn unterminated_comment_and_quote_do_not_panic() {
        assert_eq!(parse("mx.t; dkim=pass (unterminated").unwrap().results.len(), 1);
        let h = parse("mx.t; dkim=pass reason=\"open").unwrap();
        assert_eq!(h.results[0].reason.as_deref(), Some("open"));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(v in ".{0,200}") {
            let _ = parse(&v);
            let _ = evaluate(&[v], "mx.t", "example.edu");
        }
    }
}
