//! Words, typo rules and snippets shared by the backends.
//!
//! The embedded index splits text into words with [`analyzer`] (letters and
//! digits, lower-cased, accents folded: "Lyón" finds "lyon"). A query word
//! matches a word of the text exactly, with typos (one for words of 5 to 8
//! characters, two from 9, as Meilisearch does), and — for the last word of
//! the query unless followed by a space — as a prefix. [`snippet`] picks the
//! excerpt with the most distinct matched words and marks them; the result is
//! HTML-escaped text whose only markup is `<mark>`.

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};

/// Name under which the embedded index registers [`analyzer`].
pub const ANALYZER: &str = "tusk";
/// Approximate snippet length in characters.
pub const SNIPPET_CHARS: usize = 200;
/// Characters of context kept before the first match of a snippet.
const LEAD_CHARS: usize = 50;

/// The tokenizer of the embedded index.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(60))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// A word of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    pub text: String,
    /// Typos allowed (0–2).
    pub typos: u8,
    /// Whether longer words starting with it match.
    pub prefix: bool,
}

/// Typos allowed for a word of `chars` characters.
pub fn typos_for(chars: usize) -> u8 {
    match chars {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// The words of a (normalised) query text. The last one is a prefix unless
/// the text ends with a space or it has fewer than two characters.
pub fn query_words(text: &str) -> Vec<QueryWord> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words: Vec<QueryWord> = Vec::new();
    while stream.advance() {
        let t = stream.token().text.clone();
        if !words.iter().any(|w| w.text == t) {
            let typos = if t.bytes().all(|b| b.is_ascii_digit()) { 0 } else { typos_for(t.chars().count()) };
            words.push(QueryWord { text: t, typos, prefix: false });
        }
    }
    let open_ended = !text.ends_with(char::is_whitespace);
    if let Some(last) = words.last_mut() {
        last.prefix = open_ended && last.text.chars().count() >= 2;
    }
    words
}

/// Whether the text word `token` (analysed) matches the query word.
pub fn matches(word: &QueryWord, token: &str) -> bool {
    if token == word.text {
        return true;
    }
    if word.prefix && token.starts_with(word.text.as_str()) {
        return true;
    }
    if word.typos == 0 {
        return false;
    }
    if word.prefix {
        // A typo in the typed part of a longer word.
        let n = word.text.chars().count();
        let head: String = token.chars().take(n).collect();
        if distance(&head, &word.text) <= usize::from(word.typos) {
            return true;
        }
    }
    distance(token, &word.text) <= usize::from(word.typos)
}

/// Optimal string alignment distance (Levenshtein plus adjacent
/// transpositions), stopping early past 2.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Byte ranges of the words of `text` that match any query word, and the
/// index of the query word each matched.
pub fn match_ranges(text: &str, words: &[QueryWord]) -> Vec<(usize, usize, usize)> {
    if words.is_empty() {
        return Vec::new();
    }
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let token = stream.token();
        if let Some(i) = words.iter().position(|w| matches(w, &token.text)) {
            out.push((token.offset_from, token.offset_to, i));
        }
    }
    out
}

/// The best excerpt of `text` for `words`, or `None` when nothing matches.
/// Escaped, with matches in `<mark>`, and `…` where text was cut.
pub fn snippet(text: &str, words: &[QueryWord]) -> Option<String> {
    let ranges = match_ranges(text, words);
    if ranges.is_empty() {
        return None;
    }
    // The window starting at some match that covers the most distinct words,
    // then the most matches.
    let mut best = (0usize, 0usize, 0usize); // (distinct, count, index of first match)
    for (i, &(start, _, _)) in ranges.iter().enumerate().take(500) {
        let end = start + SNIPPET_CHARS - LEAD_CHARS;
        let mut seen = [false; crate::search::MAX_QUERY_WORDS + 1];
        let mut count = 0;
        for &(s, e, w) in ranges[i..].iter().take_while(|(s, _, _)| *s < end) {
            if e <= end {
                seen[w.min(crate::search::MAX_QUERY_WORDS)] = true;
                count += 1;
            }
            let _ = s;
        }
        let distinct = seen.iter().filter(|s| **s).count();
        if (distinct, count) > (best.0, best.1) {
            best = (distinct, count, i);
        }
    }
    let first = ranges[best.2].0;
    let start = floor_boundary(text, first.saturating_sub(LEAD_CHARS));
    let start = word_start(text, start, first);
    let end = ceil_boundary(text, (start + SNIPPET_CHARS).min(text.len()));
    let end = word_end(text, end);
    Some(render(text, start, end, &ranges))
}

/// The beginning of `text` (up to a snippet's length), escaped, for a hit
/// without a match in its text (e.g. found by its number).
pub fn lead(text: &str) -> String {
    let end = word_end(text, ceil_boundary(text, SNIPPET_CHARS.min(text.len())));
    render(text, 0, end, &[])
}

fn render(text: &str, start: usize, end: usize, ranges: &[(usize, usize, usize)]) -> String {
    let mut out = String::with_capacity(end - start + 32);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(s, e, _) in ranges.iter().filter(|(s, e, _)| *s >= start && *e <= end) {
        escape_html(collapse(&text[at..s]).as_str(), &mut out);
        out.push_str("<mark>");
        escape_html(&text[s..e], &mut out);
        out.push_str("</mark>");
        at = e;
    }
    escape_html(collapse(&text[at..end]).as_str(), &mut out);
    if end < text.len() {
        out.push('…');
    }
    out.trim().to_string()
}

/// Runs of whitespace (line breaks between messages) as one space.
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Moves `start` forward to the beginning of a word (not past `limit`).
fn word_start(text: &str, start: usize, limit: usize) -> usize {
    if start == 0 {
        return 0;
    }
    match text[start..limit].find(char::is_whitespace) {
        Some(i) => start + i + 1,
        None => start,
    }
}

/// Moves `end` back to the end of a word, unless that loses too much.
fn word_end(text: &str, end: usize) -> usize {
    if end >= text.len() {
        return text.len();
    }
    match text[..end].rfind(char::is_whitespace) {
        Some(i) if end - i < 30 => i,
        _ => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn query_words_are_analysed_and_the_last_is_a_prefix() {
        let w = query_words("Fédération RELAY lyo");
        assert_eq!(w.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["federation", "relay", "lyo"]);
        assert_eq!(w.iter().map(|w| (w.typos, w.prefix)).collect::<Vec<_>>(), [(2, false), (1, false), (0, true)]);
        assert!(!query_words("lyon ")[0].prefix);
        assert!(!query_words("l")[0].prefix);
        assert_eq!(query_words("123456")[0].typos, 0);
    }

    #[test]
    fn typo_and_prefix_rules() {
        let relay = QueryWord { text: "relay".into(), typos: 1, prefix: false };
        assert!(matches(&relay, "relay"));
        assert!(matches(&relay, "realy"), "a transposition is one typo");
        assert!(matches(&relay, "relays"));
        assert!(!matches(&relay, "rely-on"));
        assert!(!matches(&relay, "relaying"));
        let fed = QueryWord { text: "fede".into(), typos: 0, prefix: true };
        assert!(matches(&fed, "federation"));
        assert!(!matches(&fed, "fedora"));
        assert_eq!(distance("federation", "fedreation"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn snippets_escape_and_mark_only_matches() {
        let text = "Hello <script>alert(1)</script> & the federation relay at Lyon is down again.";
        let s = snippet(text, &query_words("relay lyon ")).unwrap();
        assert_eq!(
            s,
            "Hello &lt;script&gt;alert(1)&lt;/script&gt; &amp; the federation <mark>relay</mark> at <mark>Lyon</mark> is down again."
        );
        assert!(snippet(text, &query_words("absent")).is_none());
    }

    #[test]
    fn long_texts_are_cut_around_the_best_window() {
        let filler = "lorem ipsum dolor sit amet ".repeat(40);
        let text = format!("relay first. {filler} here the relay and lyon meet. {filler}");
        let s = snippet(&text, &query_words("relay lyon")).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>relay</mark> and <mark>lyon</mark>"), "{s}");
        assert!(s.chars().count() < SNIPPET_CHARS + 80, "{s}");
    }

    proptest! {
        #[test]
        fn snippets_never_carry_other_markup(text in "[a-z<>&\"' ]{0,300}", q in "[a-z]{1,6}") {
            if let Some(s) = snippet(&text, &query_words(&q)) {
                let stripped = s.replace("<mark>", "").replace("</mark>", "");
                prop_assert!(!stripped.contains('<') && !stripped.contains('>') && !stripped.contains('"'));
            }
            let l = lead(&text);
            prop_assert!(!l.contains('<'));
        }

        #[test]
        fn distance_is_symmetric(a in "[a-c]{0,6}", b in "[a-c]{0,6}") {
            prop_assert_eq!(distance(&a, &b), distance(&b, &a));
        }
    }
}
