//! Normalisation and validation of the values people type: domains, email
//! addresses, slugs, tags. Each returns the canonical form or a clear error.

use crate::error::{AppError, AppResult};

/// Lower-cases and checks a DNS host name (RFC 1123): at least two labels,
/// each 1–63 of `a-z 0-9 -` not starting or ending with `-`, 253 at most in all.
pub fn normalize_domain(input: &str) -> AppResult<String> {
    let domain = input.trim().trim_end_matches('.').to_ascii_lowercase();
    if is_valid_domain(&domain) {
        Ok(domain)
    } else {
        Err(AppError::invalid(format!("`{}` is not a valid domain name", input.trim())))
    }
}

/// True for a lower-case RFC 1123 host name with at least two labels.
pub fn is_valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels.last().is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_lowercase()))
}

/// Lower-cases and checks an email address (a practical subset of RFC 5321:
/// a non-empty local part without spaces or angle brackets, `@`, and a host
/// name; a single-label host such as `localhost` is accepted, as mail from
/// intranets carries them).
pub fn normalize_email(input: &str) -> AppResult<String> {
    let email = input.trim().trim_end_matches('.').to_lowercase();
    let valid = match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && !local.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
                && (is_valid_domain(domain) || is_valid_domain(&format!("{domain}.invalid")))
        }
        None => false,
    };
    if valid { Ok(email) } else { Err(AppError::invalid(format!("`{}` is not a valid email address", input.trim()))) }
}

/// The domain part of a normalised email address.
pub fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, d)| d)
}

/// Checks a slug: 1–64 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn normalize_slug(input: &str) -> AppResult<String> {
    let slug = input.trim().to_ascii_lowercase();
    let valid = !slug.is_empty()
        && slug.len() <= 64
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(slug)
    } else {
        Err(AppError::invalid(format!(
            "`{}` is not a valid slug (use a-z, 0-9 and -, at most 64 characters)",
            input.trim()
        )))
    }
}

/// Normalises a tag: trimmed, lower-case, 1–50 characters of letters,
/// digits, `-`, `_`, `.` and `:`.
pub fn normalize_tag(input: &str) -> AppResult<String> {
    let tag = input.trim().to_lowercase();
    let valid = !tag.is_empty()
        && tag.chars().count() <= 50
        && tag.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if valid {
        Ok(tag)
    } else {
        Err(AppError::invalid(format!(
            "`{}` is not a valid tag (letters, digits, - _ . :, at most 50 characters)",
            input.trim()
        )))
    }
}

/// Trims a required one-line text and checks its length.
pub fn required_line(field: &str, input: &str, max_chars: usize) -> AppResult<String> {
    let value = input.trim();
    if value.is_empty() {
        return Err(AppError::invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max_chars {
        return Err(AppError::invalid(format!("{field} is longer than {max_chars} characters")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(format!("{field} must be a single line without control characters")));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn domains() {
        assert_eq!(normalize_domain(" Social.Example.EDU. ").unwrap(), "social.example.edu");
        for bad in ["", "localhost", "-a.example", "a-.example", "a..example", "exa mple.org", "x.123", "é.fr"] {
            assert!(normalize_domain(bad).is_err(), "{bad}");
        }
        assert!(is_valid_domain(&format!("{}.org", "a".repeat(63))));
        assert!(!is_valid_domain(&format!("{}.org", "a".repeat(64))));
    }

    #[test]
    fn emails() {
        assert_eq!(normalize_email(" Ada@Uni-Lyon.FR ").unwrap(), "ada@uni-lyon.fr");
        assert_eq!(normalize_email("root@localhost").unwrap(), "root@localhost");
        assert_eq!(normalize_email("claudia@yahoo.com.").unwrap(), "claudia@yahoo.com");
        for bad in ["", "ada", "@uni.fr", "ada@", "ada@-uni", "a da@uni.fr", "<ada@uni.fr>", "ada@uni..fr"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert_eq!(email_domain("ada@uni.fr"), Some("uni.fr"));
    }

    #[test]
    fn slugs_and_tags() {
        assert_eq!(normalize_slug("Uni-Lyon").unwrap(), "uni-lyon");
        assert!(normalize_slug("uni lyon").is_err());
        assert_eq!(normalize_tag(" Federation ").unwrap(), "federation");
        assert!(normalize_tag("two words").is_err());
        assert!(required_line("subject", "  ", 10).is_err());
        assert!(required_line("subject", "a\nb", 10).is_err());
    }

    proptest! {
        #[test]
        fn normalized_domains_are_fixed_points(labels in proptest::collection::vec("[a-z][a-z0-9-]{0,10}[a-z0-9]", 2..5)) {
            let d = labels.join(".");
            let n = normalize_domain(&d.to_uppercase()).unwrap();
            prop_assert_eq!(&n, &d);
            prop_assert_eq!(normalize_domain(&n).unwrap(), n);
        }

        #[test]
        fn normalize_domain_never_panics(s in ".*") {
            let _ = normalize_domain(&s);
            let _ = normalize_email(&s);
        }
    }
}
