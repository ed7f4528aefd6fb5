//! The ticket tag Tusk puts in subjects (`[#123]`), found again in replies.

/// Formats the subject tag for ticket number `number`: `[#123]`.
pub fn format_ticket_tag(number: i64) -> String {
    format!("[#{number}]")
}

/// Finds the first ticket tag `[#N]` in a subject and returns `N`.
///
/// Whitespace is tolerated inside the brackets and after the `#`
/// (`[ #123 ]`, `[# 123]`), so tags survive clients that pad them. The number
/// must be 1–18 ASCII digits and positive. Other bracketed text (`[EXT]`,
/// `[Ticket#123]`, `[#12a]`) is skipped and the scan continues, so
/// `"[EXT] Re: [#42] Down"` yields 42. Whether the tag may be trusted is the
/// caller's decision (only for senders belonging to the ticket).
pub fn subject_ticket_tag(subject: &str) -> Option<i64> {
    let mut rest = subject;
    while let Some(open) = rest.find('[') {
        let after_open = &rest[open + 1..];
        let close = after_open.find(']')?;
        let inner = &after_open[..close];
        if let Some(number) = parse_tag_inner(inner) {
            return Some(number);
        }
        // Continue after this '[' (not after ']'): "[[#5]" still finds 5.
        rest = after_open;
    }
    None
}

fn parse_tag_inner(inner: &str) -> Option<i64> {
    let digits = inner.trim().strip_prefix('#')?.trim_start();
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok().filter(|n| *n > 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_plain_and_padded_tags() {
        assert_eq!(subject_ticket_tag("Re: [#123] Instance down"), Some(123));
        assert_eq!(subject_ticket_tag("[ #7 ] x"), Some(7));
        assert_eq!(subject_ticket_tag("[# 7]"), Some(7));
        assert_eq!(subject_ticket_tag("Fwd: help [#42]"), Some(42));
        assert_eq!(subject_ticket_tag("[EXT] Re: [#42] Down [#43]"), Some(42));
        assert_eq!(subject_ticket_tag("[[#5]"), Some(5));
    }

    #[test]
    fn rejects_lookalikes() {
        for s in [
            "",
            "no tag",
            "#123",
            "[123]",
            "[Ticket#123]",
            "[#]",
            "[#12a]",
            "[#-3]",
            "[#0]",
            "[#1234567890123456789]",
            "[#12",
            "[ # ]",
        ] {
            assert_eq!(subject_ticket_tag(s), None, "{s:?}");
        }
    }

    #[test]
    fn format_matches_parse() {
        assert_eq!(format_ticket_tag(981), "[#981]");
        assert_eq!(subject_ticket_tag(&format_ticket_tag(981)), Some(981));
    }

    proptest! {
        #[test]
        fn tag_round_trips(
            n in 1i64..=999_999_999_999_999_999,
            before in "[^\\[\\]]{0,30}",
            after in ".{0,30}",
        ) {
            let subject = format!("{before}{}{after}", format_ticket_tag(n));
            prop_assert_eq!(subject_ticket_tag(&subject), Some(n));
        }

        #[test]
        fn never_panics(s in ".{0,100}") {
            let _ = subject_ticket_tag(&s);
        }
    }
}
