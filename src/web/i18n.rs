//! The pages' words, one Fluent message catalog per language (`vi.ftl`,
//! `en.ftl`), Vietnamese first. A page asks [`Tr::get`] for a message by
//! its id; a test fails when the catalogs do not have the same ids.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

const VI: &str = include_str!("i18n/vi.ftl");
const EN: &str = include_str!("i18n/en.ftl");

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vi" => Some(Self::Vi),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header the pages speak
    /// (by weight), if any.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for part in header.split(',').take(20) {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, lang));
                }
            }
        }
        best.filter(|(q, _)| *q > 0.0).map(|(_, l)| l)
    }
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static VI_BUNDLE: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    static EN_BUNDLE: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    let (cell, source) = match lang {
        Lang::Vi => (&VI_BUNDLE, VI),
        Lang::En => (&EN_BUNDLE, EN),
    };
    cell.get_or_init(|| {
        let id: LanguageIdentifier = lang.code().parse().expect("a language identifier");
        let mut b = FluentBundle::new_concurrent(vec![id]);
        // No invisible isolation marks around values: the pages are LTR.
        b.set_use_isolating(false);
        let resource = FluentResource::try_new(source.to_owned()).expect("the message catalog parses");
        b.add_resource(resource).expect("no message is defined twice");
        b
    })
}

/// The messages of one language.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    /// Message `id`; its id itself when missing (a test keeps them all).
    pub fn get(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// Message `id` with one argument `$name`.
    pub fn arg(&self, id: &str, name: &str, value: impl std::fmt::Display) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(value.to_string()));
        self.format(id, Some(&args))
    }

    /// Message `id` with several arguments.
    pub fn args(&self, id: &str, values: &[(&str, String)]) -> String {
        let mut args = FluentArgs::new();
        for (name, value) in values {
            args.set((*name).to_owned(), FluentValue::from(value.clone()));
        }
        self.format(id, Some(&args))
    }

    fn format(&self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        let b = bundle(self.lang);
        let Some(pattern) = b.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let mut errors = Vec::new();
        b.format_pattern(pattern, args, &mut errors).into_owned()
    }
}

/// The message ids of a catalog, sorted.
pub fn ids(source: &str) -> Vec<String> {
    let resource = FluentResource::try_new(source.to_owned()).expect("the message catalog parses");
    let mut ids: Vec<String> = resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogs_have_the_same_messages() {
        let (vi, en) = (ids(VI), ids(EN));
        let only_vi: Vec<_> = vi.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !vi.contains(k)).collect();
        assert!(
            only_vi.is_empty() && only_en.is_empty(),
            "only in vi.ftl: {only_vi:?}; only in en.ftl: {only_en:?}"
        );
        assert!(vi.len() > 50, "{}", vi.len());
    }

    #[test]
    fn every_message_formats_without_errors() {
        for lang in [Lang::Vi, Lang::En] {
            let b = bundle(lang);
            for id in ids(if lang == Lang::Vi { VI } else { EN }) {
                let m = b.get_message(&id).unwrap();
                let pattern = m.value().unwrap_or_else(|| panic!("{id} has a value"));
                let mut args = FluentArgs::new();
                for name in [
                    "n",
                    "name",
                    "date",
                    "year",
                    "station",
                    "size",
                    "count",
                    "minutes",
                    "reason",
                    "declared",
                    "actual",
                    "decoded",
                    "announced",
                    "value",
                    "target",
                    "tolerance",
                    "max",
                    "measured",
                ] {
                    args.set(name, FluentValue::from("1"));
                }
                let mut errors = Vec::new();
                b.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{id} ({}): {errors:?}", lang.code());
            }
        }
    }

    #[test]
    fn messages_are_vietnamese_first() {
        assert_eq!(Tr::new(Lang::Vi).get("sign-in"), "Đăng nhập");
        assert_eq!(Tr::new(Lang::En).get("sign-in"), "Sign in");
        assert_eq!(Tr::new(Lang::Vi).arg("days-left", "n", 5), "Còn 5 ngày");
    }

    #[test]
    fn accept_language_picks_by_weight() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9,vi;q=0.8"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("fr, vi;q=0.5, en;q=0.4"), Some(Lang::Vi));
        assert_eq!(Lang::from_accept_language("fr, de"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
    }
}
