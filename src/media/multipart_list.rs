//! The S3 multipart uploads begun under the hub's prefix and never completed
//! nor aborted (`ListMultipartUploads`, which object_store does not offer):
//! what a process killed between beginning one and recording its id leaves,
//! for the sweeper to abort once old enough. Signed with object_store's own
//! SigV4 signer; answered by the same timeouts and client as every request.

use chrono::{DateTime, Utc};
use object_store::aws::{AwsAuthorizer, AwsCredential};

use super::{MediaError, S3Bucket, StoreTimeouts};

/// One incomplete multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMultipart {
    /// Its key, without the hub's prefix.
    pub key: String,
    pub upload_id: String,
    pub initiated: DateTime<Utc>,
}

pub(super) struct Lister {
    bucket: S3Bucket,
    client: reqwest::Client,
}

impl Lister {
    pub(super) fn new(bucket: &S3Bucket, t: StoreTimeouts) -> Result<Self, MediaError> {
        let client = reqwest::Client::builder()
            .connect_timeout(t.connect)
            .timeout(t.request)
            .build()
            .map_err(|e| MediaError::Io(std::io::Error::other(e)))?;
        Ok(Self {
            bucket: bucket.clone(),
            client,
        })
    }

    /// Every incomplete multipart upload under `prefix/folder` (`blobs/`,
    /// `previews/`).
    pub(super) async fn list(&self, prefix: &str, folder: &str) -> Result<Vec<PendingMultipart>, MediaError> {
        let full = if prefix.is_empty() {
            folder.to_owned()
        } else {
            format!("{prefix}/{folder}")
        };
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        for _ in 0..10_000 {
            let mut url = url::Url::parse(&format!(
                "{}/{}",
                self.bucket.endpoint.trim_end_matches('/'),
                self.bucket.bucket
            ))
            .map_err(|e| MediaError::Io(std::io::Error::other(e)))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("uploads", "").append_pair("prefix", &full);
                if let Some((key, id)) = &markers {
                    q.append_pair("key-marker", key).append_pair("upload-id-marker", id);
                }
            }
            let body = self.get(url).await?;
            for upload in elements(&body, "Upload") {
                let (Some(key), Some(upload_id)) = (text(upload, "Key"), text(upload, "UploadId")) else {
                    continue;
                };
                let initiated = text(upload, "Initiated")
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
                let key = match prefix {
                    "" => key,
                    p => key.strip_prefix(&format!("{p}/")).map(str::to_owned).unwrap_or(key),
                };
                out.push(PendingMultipart {
                    key,
                    upload_id,
                    initiated,
                });
            }
            if text(&body, "IsTruncated").as_deref() != Some("true") {
                return Ok(out);
            }
            match (text(&body, "NextKeyMarker"), text(&body, "NextUploadIdMarker")) {
                (Some(k), Some(i)) => markers = Some((k, i)),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    async fn get(&self, url: url::Url) -> Result<String, MediaError> {
        let credential = AwsCredential {
            key_id: self.bucket.access_key_id.clone(),
            secret_key: self.bucket.secret_access_key.expose().to_owned(),
            token: None,
        };
        let mut request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url.as_str())
            .body(object_store::client::HttpRequestBody::empty())
            .map_err(|e| MediaError::Io(std::io::Error::other(e)))?;
        AwsAuthorizer::new(&credential, "s3", &self.bucket.region)
            .with_sign_payload(false)
            .authorize(&mut request, None);
        let mut send = self.client.get(url.as_str());
        for (name, value) in request.headers() {
            send = send.header(name, value);
        }
        let unavailable = |e: reqwest::Error| MediaError::Unavailable(Box::new(e));
        let response = send.send().await.map_err(unavailable)?;
        let status = response.status();
        let body = response.text().await.map_err(unavailable)?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(MediaError::Unavailable(
                format!("ListMultipartUploads answered {status}").into(),
            ));
        }
        if !status.is_success() {
            return Err(MediaError::Io(std::io::Error::other(format!(
                "ListMultipartUploads answered {status}"
            ))));
        }
        Ok(body)
    }
}

/// The contents of each `<name>…</name>` in `xml`.
fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

/// The text of the first `<name>` in `xml`, unescaped.
fn text(xml: &str, name: &str) -> Option<String> {
    let raw = elements(xml, name).into_iter().next()?;
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_listing() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated>
<Upload><Key>p/blobs/abc</Key><UploadId>id1</UploadId><Initiated>2026-11-30T06:00:00.000Z</Initiated></Upload>
<Upload><Key>p/blobs/d&amp;e</Key><UploadId>id2</UploadId></Upload>
</ListMultipartUploadsResult>"#;
        let uploads = elements(xml, "Upload");
        assert_eq!(uploads.len(), 2);
        assert_eq!(text(uploads[0], "Key").unwrap(), "p/blobs/abc");
        assert_eq!(text(uploads[1], "Key").unwrap(), "p/blobs/d&e");
        assert_eq!(text(uploads[1], "UploadId").unwrap(), "id2");
        assert_eq!(text(xml, "IsTruncated").unwrap(), "false");
        assert!(text(uploads[1], "Initiated").is_none());
    }
}
