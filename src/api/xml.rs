//! Just enough XML writing for the Atom feed and the EBUCore sidecar.

/// Escapes text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            super::esc("Đài <\"A\"> & 'B'\u{1}"),
            "Đài &lt;&quot;A&quot;&gt; &amp; &apos;B&apos;"
        );
    }
}
