//! The chunks a broadcast WAV carries for playout systems: `bext` (EBU Tech
//! 3285 version 2, with the loudness fields) and `cart` (AES46). Bytes out,
//! no I/O. The hub writes them after the audio data (RIFF readers walk every
//! chunk), so that one encode serves every station: the audio is the same,
//! only the cut ID and the rights window in these chunks are the taker's.

use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;

use super::Loudness;

/// What the chunks say of a program.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastMeta {
    pub title: String,
    /// The station that made it.
    pub station: String,
    /// When it was made (published).
    pub origination: DateTime<Utc>,
    /// As the rendition measures.
    pub loudness: Option<Loudness>,
    /// The taking station's number for the series.
    pub cut_id: Option<String>,
    /// The rights window; open ends are the cart's far dates.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// The `bext` coding history of an encode (one line, even length).
pub fn coding_history(codec: &str, rate: u32, bits: Option<u8>, channels: u8) -> String {
    let mode = match channels {
        1 => "mono",
        2 => "stereo",
        _ => "multichannel",
    };
    let mut line = match (codec, bits) {
        ("mp2", _) => format!(
            "A=MPEG1L2,F={rate},B={},M={mode},T=pxhub",
            if channels == 1 { 128 } else { 256 }
        ),
        (_, bits) => format!("A=PCM,F={rate},W={},M={mode},T=pxhub", bits.unwrap_or(24)),
    };
    line.push_str("\r\n");
    if line.len() % 2 == 1 {
        line.push('\0');
    }
    line
}

/// The length of [`trailer`] for a coding history of `history_len` bytes.
pub fn trailer_len(history_len: usize) -> u64 {
    (8 + BEXT_FIXED + history_len + 8 + CART_FIXED) as u64
}

const BEXT_FIXED: usize = 602;
const CART_FIXED: usize = 2048;

/// `text` as the ASCII these chunks hold: Vietnamese letters lose their
/// marks (`Đài` → `Dai`), what has no ASCII form becomes `?`.
pub fn ascii(text: &str) -> String {
    text.nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            c if c.is_control() => ' ',
            _ => '?',
        })
        .collect()
}

/// `text` in a field of `n` bytes, NUL-padded (cut, never overflowing).
fn field(out: &mut Vec<u8>, text: &str, n: usize) {
    let bytes = ascii(text).into_bytes();
    let len = bytes.len().min(n);
    out.extend_from_slice(&bytes[..len]);
    out.resize(out.len() + n - len, 0);
}

/// Hundredths of a LU or dB, as `bext` keeps them; 0x7FFF when unknown.
fn centi(v: Option<f64>) -> [u8; 2] {
    let v = v
        .filter(|v| v.is_finite())
        .map_or(0x7FFF, |v| (v * 100.0).round().clamp(-32768.0, 32766.0) as i16);
    v.to_le_bytes()
}

/// The `bext` and `cart` chunks, headers included, of `meta` with
/// `history` (from [`coding_history`]).
pub fn trailer(meta: &BroadcastMeta, history: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(trailer_len(history.len()) as usize);
    out.extend_from_slice(b"bext");
    out.extend_from_slice(&((BEXT_FIXED + history.len()) as u32).to_le_bytes());
    field(&mut out, &meta.title, 256);
    field(&mut out, &meta.station, 32);
    field(&mut out, "", 32);
    field(&mut out, &meta.origination.format("%Y-%m-%d").to_string(), 10);
    field(&mut out, &meta.origination.format("%H:%M:%S").to_string(), 8);
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.resize(out.len() + 64, 0); // UMID: none
    let l = meta.loudness.as_ref();
    out.extend_from_slice(&centi(l.and_then(|l| l.integrated_lufs)));
    out.extend_from_slice(&centi(l.and_then(|l| l.range_lu)));
    out.extend_from_slice(&centi(l.and_then(|l| l.true_peak_dbtp)));
    out.extend_from_slice(&centi(None)); // max momentary: not kept
    out.extend_from_slice(&centi(None)); // max short-term: not kept
    out.resize(out.len() + 180, 0);
    out.extend_from_slice(history.as_bytes());

    out.extend_from_slice(b"cart");
    out.extend_from_slice(&(CART_FIXED as u32).to_le_bytes());
    let cart_start = out.len();
    out.extend_from_slice(b"0101");
    field(&mut out, &meta.title, 64);
    field(&mut out, &meta.station, 64);
    field(&mut out, meta.cut_id.as_deref().unwrap_or(""), 64);
    for _ in 0..4 {
        field(&mut out, "", 64); // client id, category, classification, out cue
    }
    let (start_date, start_time) = match meta.start {
        Some(t) => (t.format("%Y-%m-%d").to_string(), t.format("%H:%M:%S").to_string()),
        None => ("1900-01-01".into(), "00:00:00".into()),
    };
    let (end_date, end_time) = match meta.end {
        Some(t) => (t.format("%Y-%m-%d").to_string(), t.format("%H:%M:%S").to_string()),
        None => ("9999-12-31".into(), "23:59:59".into()),
    };
    field(&mut out, &start_date, 10);
    field(&mut out, &start_time, 8);
    field(&mut out, &end_date, 10);
    field(&mut out, &end_time, 8);
    field(&mut out, "pxhub", 64);
    field(&mut out, env!("CARGO_PKG_VERSION"), 64);
    field(&mut out, "", 64); // user defined
    out.extend_from_slice(&0i32.to_le_bytes()); // level reference
    out.resize(out.len() + 64 + 276 + 1024, 0); // post timers, reserved, URL
    out.resize(cart_start + CART_FIXED, 0); // no tag text
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> BroadcastMeta {
        BroadcastMeta {
            title: "Nông nghiệp xanh — số 12".into(),
            station: "Đài Thái Nguyên".into(),
            origination: "2026-11-30T07:15:00Z".parse().unwrap(),
            loudness: Some(Loudness {
                integrated_lufs: Some(-23.04),
                range_lu: Some(1.5),
                true_peak_dbtp: Some(-4.2),
            }),
            cut_id: Some("4501".into()),
            start: Some("2026-12-01T00:00:00Z".parse().unwrap()),
            end: None,
        }
    }

    #[test]
    fn the_chunks_have_their_fixed_lengths_and_fields() {
        let history = coding_history("pcm", 48000, Some(24), 2);
        assert_eq!(history.len() % 2, 0);
        let t = trailer(&meta(), &history);
        assert_eq!(t.len() as u64, trailer_len(history.len()));
        assert_eq!(&t[..4], b"bext");
        assert_eq!(&t[8..8 + 24], b"Nong nghiep xanh ? so 12");
        assert_eq!(&t[8 + 256..8 + 256 + 15], b"Dai Thai Nguyen");
        // Version 2, then loudness in hundredths after the 64-byte UMID.
        let v = 8 + 256 + 32 + 32 + 10 + 8 + 8;
        assert_eq!(&t[v..v + 2], &2u16.to_le_bytes());
        assert_eq!(i16::from_le_bytes([t[v + 66], t[v + 67]]), -2304);
        assert_eq!(i16::from_le_bytes([t[v + 70], t[v + 71]]), -420);
        let cart = 8 + 602 + history.len();
        assert_eq!(&t[cart..cart + 4], b"cart");
        let c = cart + 8;
        assert_eq!(&t[c..c + 4], b"0101");
        assert_eq!(&t[c + 4 + 128..c + 4 + 132], b"4501");
        let dates = c + 4 + 64 * 7;
        assert_eq!(&t[dates..dates + 36], b"2026-12-0100:00:009999-12-3123:59:59");
    }

    #[test]
    fn ascii_keeps_what_it_can() {
        assert_eq!(ascii("Đài Phát thanh Hà Giang"), "Dai Phat thanh Ha Giang");
        assert_eq!(ascii("a\u{7}b日"), "a b?");
    }
}
