//! Dates, numbers, sizes and durations as the pages write them: the
//! Vietnamese way (`30/11/2026`, `1.234,5 MB`, `1 giờ 05 phút`) in the
//! stations' time zone (Asia/Ho_Chi_Minh, UTC+7, no daylight saving), or
//! the English way.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::i18n::Lang;

/// Asia/Ho_Chi_Minh: UTC+7 all year.
pub fn station_zone() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is an offset")
}

pub fn date(t: DateTime<Utc>, lang: Lang) -> String {
    let local = t.with_timezone(&station_zone());
    match lang {
        Lang::Vi => local.format("%d/%m/%Y").to_string(),
        Lang::En => local.format("%d %b %Y").to_string(),
    }
}

pub fn date_time(t: DateTime<Utc>, lang: Lang) -> String {
    let local = t.with_timezone(&station_zone());
    match lang {
        Lang::Vi => local.format("%d/%m/%Y %H:%M").to_string(),
        Lang::En => local.format("%d %b %Y %H:%M").to_string(),
    }
}

/// The value of an `<input type="date">` for `t` (station time).
pub fn input_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&station_zone()).format("%Y-%m-%d").to_string()
}

/// The value of an `<input type="datetime-local">` for `t` (station time).
pub fn input_date_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&station_zone()).format("%Y-%m-%dT%H:%M").to_string()
}

/// What an `<input type="date">` sent, as the start of that day in station
/// time (`end_of_day`: its last second).
pub fn parse_input_date(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        NaiveTime::from_hms_opt(23, 59, 59)?
    } else {
        NaiveTime::MIN
    };
    station_zone()
        .from_local_datetime(&d.and_time(t))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// What an `<input type="datetime-local">` sent, in station time.
pub fn parse_input_date_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    station_zone()
        .from_local_datetime(&t)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// `value` with `decimals` decimals: `1.234,5` (vi) or `1,234.5` (en).
pub fn number(value: f64, decimals: usize, lang: Lang) -> String {
    let (thousands, point) = match lang {
        Lang::Vi => ('.', ','),
        Lang::En => (',', '.'),
    };
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    // A real minus sign (U+2212), as print writes it: −19,2 LUFS.
    if value < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('\u{2212}');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(thousands);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    out
}

pub fn integer(value: u64, lang: Lang) -> String {
    number(value as f64, 0, lang)
}

/// A size in bytes, in decimal units: `850 B`, `12,3 kB`, `1.234,5 MB`
/// below 10 GB, then GB.
pub fn size(bytes: u64, lang: Lang) -> String {
    let b = bytes as f64;
    if bytes < 1000 {
        format!("{} B", integer(bytes, lang))
    } else if bytes < 1_000_000 {
        format!("{} kB", number(b / 1e3, 1, lang))
    } else if bytes < 10_000_000_000 {
        format!("{} MB", number(b / 1e6, 1, lang))
    } else {
        format!("{} GB", number(b / 1e9, 1, lang))
    }
}

/// A duration in words: `1 giờ 05 phút`, `25 phút 30 giây`.
pub fn duration(seconds: u32, lang: Lang) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let (hw, mw, sw) = match lang {
        Lang::Vi => ("giờ", "phút", "giây"),
        Lang::En => ("h", "min", "s"),
    };
    match (h, m, s) {
        (0, 0, s) => format!("{s} {sw}"),
        (0, m, 0) => format!("{m} {mw}"),
        (0, m, s) => format!("{m} {mw} {s:02} {sw}"),
        (h, m, _) => format!("{h} {hw} {m:02} {mw}"),
    }
}

/// A duration for tables: `65:30`.
pub fn clock(seconds: u32) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_in_station_time() {
        // 17:30 UTC on the 30th is 00:30 on 1 December in Hà Nội.
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 17, 30, 0).unwrap();
        assert_eq!(date(t, Lang::Vi), "01/12/2026");
        assert_eq!(date_time(t, Lang::Vi), "01/12/2026 00:30");
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        assert_eq!(date(t, Lang::Vi), "30/11/2026");
        assert_eq!(date_time(t, Lang::Vi), "30/11/2026 19:00");
        assert_eq!(date(t, Lang::En), "30 Nov 2026");
    }

    #[test]
    fn input_dates_round_trip_in_station_time() {
        let t = parse_input_date("2026-11-30", false).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 11, 29, 17, 0, 0).unwrap());
        assert_eq!(input_date(t), "2026-11-30");
        let t = parse_input_date_time("2026-11-30T19:00").unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap());
        assert_eq!(input_date_time(t), "2026-11-30T19:00");
        assert!(parse_input_date("30/11/2026", false).is_none());
    }

    #[test]
    fn numbers_the_vietnamese_way() {
        assert_eq!(number(1234.5, 1, Lang::Vi), "1.234,5");
        assert_eq!(number(1234.5, 1, Lang::En), "1,234.5");
        assert_eq!(number(1234567.0, 0, Lang::Vi), "1.234.567");
        assert_eq!(number(-12.25, 1, Lang::Vi), "\u{2212}12,2");
        assert_eq!(number(-0.01, 1, Lang::Vi), "0,0");
        assert_eq!(number(0.0, 0, Lang::Vi), "0");
        assert_eq!(size(1_234_500_000, Lang::Vi), "1.234,5 MB");
        assert_eq!(size(12_300, Lang::Vi), "12,3 kB");
        assert_eq!(size(999, Lang::Vi), "999 B");
        assert_eq!(size(21_000_000_000, Lang::Vi), "21,0 GB");
    }

    #[test]
    fn durations_in_words_and_in_tables() {
        assert_eq!(duration(3900, Lang::Vi), "1 giờ 05 phút");
        assert_eq!(duration(1500, Lang::Vi), "25 phút");
        assert_eq!(duration(1530, Lang::Vi), "25 phút 30 giây");
        assert_eq!(duration(45, Lang::En), "45 s");
        assert_eq!(clock(3930), "65:30");
    }
}
