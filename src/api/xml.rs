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
            // A bare CR would be read back as a line feed.
            '\r' => out.push_str("&#13;"),
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// Whatever a field holds, the element written of it parses as XML
        /// and reads back as the field without what XML cannot carry.
        #[test]
        fn any_text_makes_well_formed_xml(chars in proptest::collection::vec(proptest::prelude::any::<char>(), 0..40)) {
            let text: String = chars.into_iter().collect();
            let doc = format!("<a b=\"{}\">{}</a>", super::esc(&text), super::esc(&text));
            let parsed = roxmltree::Document::parse(&doc);
            proptest::prop_assert!(parsed.is_ok(), "{text:?}: {parsed:?}");
            let parsed = parsed.unwrap();
            let kept: String = text.chars().filter(|c| super::xml_char(*c)).collect();
            let read: String = parsed.root_element().children().filter_map(|n| n.text()).collect();
            proptest::prop_assert_eq!(read, kept);
        }
    }
}
