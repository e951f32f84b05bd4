//! What the hub accepts as a file's name and media type.

use super::FileRole;

/// A file name as a station sent it, made safe to keep and to send back: NFC,
/// the last path component only, no control, hidden or direction-changing
/// characters, at most 255 bytes.
/// It is only ever stored in the catalog; it never reaches a key or a path.
pub fn parse_filename(raw: &str) -> Result<String, String> {
    let name = super::text::tidy(raw.rsplit(['/', '\\']).next().unwrap_or(""), false)?;
    if name.is_empty() || name == "." || name == ".." {
        return Err("must name a file".into());
    }
    if name.len() > 255 {
        return Err("must be at most 255 bytes".into());
    }
    Ok(name)
}

/// A media type without parameters, lowercased (`Video/MP4; x=y` → `video/mp4`).
pub fn parse_media_type(raw: &str) -> Option<String> {
    let essence = raw.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(kind) && token(sub)).then_some(essence)
}

/// A media type for a file name's extension, for clients that send none.
pub fn guess_media_type(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "ts" => "video/mp2t",
        "mpg" | "mpeg" => "video/mpeg",
        "avi" => "video/x-msvideo",
        "mxf" => "application/mxf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "odt" => "application/vnd.oasis.opendocument.text",
        "rtf" => "application/rtf",
        "srt" => "application/x-subrip",
        "vtt" => "text/vtt",
        "ttml" => "application/ttml+xml",
        _ => return None,
    })
}

const DOCUMENTS: &[&str] = &[
    "text/plain",
    "text/markdown",
    "application/pdf",
    "application/rtf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
];
const SUBTITLES: &[&str] = &[
    "text/vtt",
    "application/x-subrip",
    "text/srt",
    "application/ttml+xml",
    "text/plain",
];

impl FileRole {
    /// Whether a file of this role may have `media_type`: a master or a
    /// preview is audio or video (MXF included), artwork an image, and so on.
    pub fn accepts(self, media_type: &str) -> bool {
        let top = media_type.split('/').next().unwrap_or("");
        match self {
            FileRole::Master | FileRole::Preview => matches!(top, "audio" | "video") || media_type == "application/mxf",
            FileRole::Artwork => top == "image",
            FileRole::Script => DOCUMENTS.contains(&media_type),
            FileRole::Subtitle => SUBTITLES.contains(&media_type),
        }
    }

    /// What [`FileRole::accepts`] allows, in words.
    pub fn expects(self) -> &'static str {
        match self {
            FileRole::Master | FileRole::Preview => "audio/*, video/* or application/mxf",
            FileRole::Artwork => "image/*",
            FileRole::Script => "text/plain, text/markdown, PDF, RTF, Word or OpenDocument text",
            FileRole::Subtitle => "text/vtt, application/x-subrip, application/ttml+xml or text/plain",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_vietnamese_and_lose_paths() {
        assert_eq!(parse_filename("Thời sự tối 12-3.mp4").unwrap(), "Thời sự tối 12-3.mp4");
        assert_eq!(parse_filename("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(parse_filename("C:\\Users\\Đài\\bản tin.mp3").unwrap(), "bản tin.mp3");
        for bad in [
            "",
            "  ",
            "a/",
            "..",
            "a\u{0}b",
            "x\ny",
            "invoice\u{202E}pm3.exe",
            "a\u{200B}.mp3",
        ] {
            assert!(parse_filename(bad).is_err(), "{bad:?}");
        }
        assert!(parse_filename(&"ư".repeat(200)).is_err());
    }

    #[test]
    fn roles_take_their_kinds_of_media() {
        assert_eq!(parse_media_type("Video/MP4; codecs=avc1").as_deref(), Some("video/mp4"));
        assert_eq!(parse_media_type("nonsense"), None);
        assert!(FileRole::Master.accepts("audio/mpeg"));
        assert!(FileRole::Master.accepts("application/mxf"));
        assert!(!FileRole::Master.accepts("image/png"));
        assert!(!FileRole::Master.accepts("application/octet-stream"));
        assert!(FileRole::Artwork.accepts("image/jpeg"));
        assert!(FileRole::Script.accepts("application/pdf"));
        assert!(FileRole::Subtitle.accepts("text/vtt"));
        assert!(!FileRole::Subtitle.accepts("video/mp4"));
    }
}
