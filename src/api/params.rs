//! Values of query parameters that parse exactly as their schema says:
//! a list's `limit`, a date or date-time, a duration in seconds. Each type's
//! `Deserialize` and its schema sit side by side, so the bounds the document
//! declares are the ones the parser enforces.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::PartialSchema;

/// Deserializes `T` from the parameter's text through `parse`, whose error
/// message becomes the field's.
fn from_text<'de, D, T>(d: D, expecting: &'static str, parse: fn(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct Text<T>(&'static str, fn(&str) -> Result<T, String>);
    impl<T> Visitor<'_> for Text<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(Text(expecting, parse))
}

/// A page's size: 1 to 100, 20 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(usize);

impl Limit {
    pub const DEFAULT: usize = 20;
    pub const MAX: usize = 100;

    /// The limit asked for, or the default.
    pub fn or_default(limit: Option<Limit>) -> usize {
        limit.map_or(Self::DEFAULT, |l| l.0)
    }

    fn parse(v: &str) -> Result<Self, String> {
        match v.parse::<usize>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(format!("must be a whole number from 1 to {}", Self::MAX)),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a whole number from 1 to 100", Self::parse)
    }
}

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(Self::MAX as u64))
            .default(Some(Self::DEFAULT.into()))
            .description(Some("How many items a page holds: 1 to 100, default 20."))
            .into()
    }
}

/// A number of seconds, `0` to `4294967295`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub u32);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a whole number of seconds", |v| {
            v.parse::<u32>()
                .map(Seconds)
                .map_err(|_| format!("must be a whole number of seconds from 0 to {}", u32::MAX))
        })
    }
}

impl PartialSchema for Seconds {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .maximum(Some(u32::MAX))
            .into()
    }
}

pub use crate::domain::DateOrTime;

impl<'de> Deserialize<'de> for DateOrTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "an RFC 3339 date-time or a YYYY-MM-DD date", Self::parse)
    }
}

impl PartialSchema for DateOrTime {
    fn schema() -> RefOr<Schema> {
        let string = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(string(KnownFormat::DateTime))
            .item(string(KnownFormat::Date))
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_1_to_100() {
        assert_eq!(Limit::parse("1"), Ok(Limit(1)));
        assert_eq!(Limit::parse("100"), Ok(Limit(100)));
        for bad in ["0", "101", "-1", "", "x", "18446744073709551616"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Limit::or_default(None), 20);
    }

    #[test]
    fn dates_and_date_times() {
        let day = DateOrTime::parse("2024-03-12").unwrap();
        assert_eq!(day.start().to_rfc3339(), "2024-03-12T00:00:00+00:00");
        assert_eq!(day.end_of_day().to_rfc3339(), "2024-03-12T23:59:59.999999+00:00");
        let at = DateOrTime::parse("2024-03-12T11:30:00+07:00").unwrap();
        assert_eq!(at.start(), at.end_of_day());
        assert_eq!(at.start().to_rfc3339(), "2024-03-12T04:30:00+00:00");
        for bad in ["last week", "2024-13-01", "", "+262143-12-31"] {
            assert!(DateOrTime::parse(bad).is_err(), "{bad}");
        }
    }
}
