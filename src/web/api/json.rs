//! A small JSON writer for the API's busiest answer, the ticket list.
//!
//! `serde_json` escapes every key of every object and formats timestamps
//! through `core::fmt`; on a page of 50 tickets (about 30 KB, 1,100 keys)
//! that was a quarter of Tusk's CPU for the request. Here keys are literal
//! bytes, strings that need no escaping are copied as they are, and
//! timestamps are written digit by digit. Whatever this writer produces is
//! byte for byte what `serde_json` produces for the same value: the tests
//! compare the two, and anything unusual (a string to escape, a year outside
//! 1000-9999) is handed to `serde_json` itself.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Appends `s` as a JSON string.
pub fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // serde_json's own escaping; writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Appends `s` as a JSON string, or `null`.
pub fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends an integer.
pub fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends an integer, or `null`.
pub fn opt_int(out: &mut Vec<u8>, n: Option<i64>) {
    match n {
        Some(n) => int(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends a boolean.
pub fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Appends a timestamp as chrono's `Serialize` writes it: RFC 3339 in UTC
/// with `Z`, and no fraction, or 3, 6 or 9 digits of it, whichever is the
/// shortest exact one.
pub fn timestamp(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    let year = t.year();
    let nanos = t.nanosecond();
    if !(1000..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Far years and leap seconds: chrono's own text.
        let _ = serde_json::to_writer(&mut *out, t);
        return;
    }
    out.reserve(32);
    out.push(b'"');
    digits(out, year as u32, 4);
    let date_time = [(b'-', t.month()), (b'-', t.day()), (b'T', t.hour()), (b':', t.minute()), (b':', t.second())];
    for (sep, value) in date_time {
        out.push(sep);
        digits(out, value, 2);
    }
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            digits(out, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            digits(out, nanos / 1_000, 6);
        } else {
            digits(out, nanos, 9);
        }
    }
    out.extend_from_slice(b"Z\"");
}

/// Appends the last `n` decimal digits of `value`, with leading zeros.
fn digits(out: &mut Vec<u8>, value: u32, n: u32) {
    for i in (0..n).rev() {
        out.push(b'0' + ((value / 10u32.pow(i)) % 10) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        for s in ["", "plain", "quote \" here", "back\\slash", "tab\tnew\nline", "\u{1}", "é ü 🦣", "\u{7f}"] {
            assert_eq!(written(|o| string(o, s)), serde_json::to_string(s).unwrap(), "{s:?}");
        }
        assert_eq!(written(|o| opt_string(o, None)), "null");
    }

    #[test]
    fn timestamps_match_chrono() {
        let cases = [
            "2026-11-27T05:39:28Z",
            "2026-11-27T05:39:28.100Z",
            "2026-11-27T05:39:28.991086Z",
            "2026-01-02T03:04:05.000000007Z",
            "1000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "0999-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
        ];
        for case in cases {
            let t: DateTime<Utc> = case.parse().unwrap();
            assert_eq!(written(|o| timestamp(o, &t)), serde_json::to_string(&t).unwrap(), "{case}");
        }
    }

    proptest! {
        #[test]
        fn any_timestamp_matches_chrono(secs in -62_000_000_000i64..300_000_000_000, nanos in 0u32..1_000_000_000, round in 0u32..4) {
            let nanos = match round { 0 => 0, 1 => nanos / 1_000_000 * 1_000_000, 2 => nanos / 1_000 * 1_000, _ => nanos };
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            prop_assert_eq!(written(|o| timestamp(o, &t)), serde_json::to_string(&t).unwrap());
        }

        #[test]
        fn any_string_matches_serde_json(s in "\\PC*|[\\x00-\\x7f]*") {
            prop_assert_eq!(written(|o| string(o, &s)), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn any_int_matches_serde_json(n in any::<i64>()) {
            prop_assert_eq!(written(|o| int(o, n)), serde_json::to_string(&n).unwrap());
        }
    }
}
