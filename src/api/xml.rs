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
            // Not allowed in XML 1.0 at all (its `Char` production), or
            // a noncharacter it discourages: never written, whatever the
            // catalog holds.
            c if !xml_char(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether XML 1.0 lets `c` stand in a document and does not discourage it
/// (noncharacters and the C1 controls).
fn xml_char(c: char) -> bool {
    let n = c as u32;
    match n {
        0x9 | 0xA | 0xD => true,
        0x0..=0x1F | 0x7F..=0x9F => false,
        0xFDD0..=0xFDEF => false,
        _ => n & 0xFFFE != 0xFFFE,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            super::esc("Đài <\"A\"> & 'B'\u{1}"),
            "Đài &lt;&quot;A&quot;&gt; &amp; &apos;B&apos;"
        );
        assert_eq!(
            super::esc("a\u{FFFE}b\u{FFFF}c\u{FDD0}d\u{1FFFF}e\u{85}f\u{7F}g\u{0}\tđ"),
            "abcdefg\tđ"
        );
        // Every character XML 1.0 allows passes through.
        let kept = "\u{20}\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFD}";
        assert_eq!(super::esc(kept), kept);
    }
}
