//! Sending one push. The connection goes where the webhook address guard
//! lets it (judged again at every attempt); the file streams from the hub's
//! store in its chunks (constant memory) and is written whole or not at
//! all under its name:
//!
//! - SFTP and FTP: into `NAME.<digest>.part`, resumed from the size already
//!   there (the digest in the name: never resumed from another content),
//!   renamed to `NAME` once the server holds every byte, then `NAME.md5`
//!   (`md5sum`'s line), itself written under a `.part` name and renamed.
//! - S3: a multipart upload, which appears under `NAME` only when
//!   complete, then `NAME.md5`. A part cut short is sent again by the
//!   store client; beyond its retries, the upload's id and the ETags of the
//!   parts the bucket holds are kept with the delivery, and the next
//!   attempt goes on from the part after them.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use md5::{Digest, Md5};
use url::Url;

use super::{ftp, sftp};
use crate::catalog::push;
use crate::domain::{PushDelivery, PushTarget, TargetKind};
use crate::exchange::delivery::webhooks::guard::{Guard, Refusal};
use crate::exchange::renditions::RenditionFile;
use crate::exchange::{ExchangeError, Hub};
use crate::media::{MediaError, MediaSettings, MediaStore, S3Bucket, StoreLocation, StoreTimeouts};

/// How an attempt ended, if not with the file delivered.
#[derive(Debug)]
pub(in crate::exchange::delivery) enum Failure {
    /// Worth another try later; the words are the station's.
    Retry(String),
    /// No use trying again.
    Final(String),
    /// The rights window opens at this time.
    Wait(DateTime<Utc>),
    /// The hub itself is not ready (a rendition being made): try at this
    /// time, without counting it against the link.
    Later(String, DateTime<Utc>),
}

/// A connection that broke or went silent.
pub(super) fn dropped(what: &str) -> Failure {
    Failure::Retry(what.to_owned())
}

/// How long one network step may take.
pub(super) const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a transfer records its progress (and keeps its lease).
const TICK: Duration = Duration::from_secs(1);
/// S3 parts (the least S3 takes is 5 MiB).
const S3_PART: usize = 8 * 1024 * 1024;

/// How long a claimed push is the sender's before another may take it; the
/// sender renews it at every progress tick.
pub(in crate::exchange::delivery) fn lease() -> chrono::Duration {
    chrono::Duration::from_std(IO_TIMEOUT * 4).unwrap_or_default()
}

/// The address to connect to for `url`, if the guard lets deliveries go
/// there: an IP literal as it is, a name by what it resolves to now.
async fn address(guard: &Guard, url: &Url, kind: TargetKind) -> Result<SocketAddr, Failure> {
    let refused = || Failure::Final("refused: the address is not one deliveries may reach".into());
    let port = url.port().unwrap_or(match (kind, url.scheme()) {
        (TargetKind::S3, "http") => 80,
        _ => kind.default_port(),
    });
    let ip: IpAddr = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        // Non-special schemes (sftp, ftp) keep IPv4 literals as names.
        Some(url::Host::Domain(name)) if name.parse::<IpAddr>().is_ok() => name.parse().map_err(|_| refused())?,
        Some(url::Host::Domain(name)) => match guard.addresses(name).await {
            Ok(found) => found[0],
            Err(Refusal::Internal) => return Err(refused()),
            Err(Refusal::Unresolved) => return Err(Failure::Retry("the host name does not resolve".into())),
        },
        None => return Err(refused()),
    };
    if !guard.policy().permits(ip) {
        return Err(refused());
    }
    Ok(SocketAddr::new(ip, port))
}

/// `dir/name`, or `name` when the folder is empty.
fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Records the bytes on the target now and then (and keeps the lease); says
/// when the push was stopped meanwhile, and whether the target kept more of
/// the file than it held when the attempt began.
struct Progress<'a> {
    hub: &'a Hub,
    id: String,
    last: Instant,
    /// What the target held at the attempt's first tick.
    first: Option<u64>,
    moved: &'a mut bool,
}

impl Progress<'_> {
    async fn tick(&mut self, bytes: u64, now: bool) -> Result<(), Failure> {
        match self.first {
            None => self.first = Some(bytes),
            Some(first) if bytes > first => *self.moved = true,
            Some(_) => {}
        }
        if !now && self.last.elapsed() < TICK {
            return Ok(());
        }
        self.last = Instant::now();
        let (id, at) = (self.id.clone(), Utc::now());
        let lease = at + lease();
        let going = self
            .hub
            .catalog
            .write(move |tx| push::progress(tx, &id, bytes, at, lease))
            .await
            .map_err(|_| Failure::Retry("the hub could not record the delivery's progress".into()))?;
        if going {
            Ok(())
        } else {
            Err(Failure::Final("stopped".into()))
        }
    }
}

/// A failure of the hub's own store, while opening the file.
fn open_failure(e: ExchangeError) -> Failure {
    tracing::error!(error = %e, "could not open a file to push");
    Failure::Retry("the hub could not read the file; it tries again".into())
}

/// A failure of the hub's own store, while reading the file.
fn store_failure(e: MediaError) -> Failure {
    tracing::error!(error = %e, "could not read a file to push");
    Failure::Retry("the hub could not read the file; it tries again".into())
}

/// The `md5sum` line of the file.
fn md5_line(md5: Md5, name: &str) -> String {
    format!("{}  {name}\n", hex::encode(md5.finalize()))
}

/// A file-system target, SFTP or FTP.
enum Remote {
    Sftp(sftp::Sftp),
    Ftp(ftp::Ftp),
}

enum Writer {
    Sftp(Box<sftp::Writer>),
    Ftp(ftp::Writer),
}

impl Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        match self {
            Self::Sftp(w) => w.write(chunk).await,
            Self::Ftp(w) => w.write(chunk).await,
        }
    }

    async fn finish(self) -> Result<(), Failure> {
        match self {
            Self::Sftp(w) => w.finish().await,
            Self::Ftp(w) => w.finish().await,
        }
    }
}

impl Remote {
    async fn size(&mut self, path: &str) -> Result<Option<u64>, Failure> {
        match self {
            Self::Sftp(r) => r.size(path).await,
            Self::Ftp(r) => r.size(path).await,
        }
    }

    async fn remove(&mut self, path: &str) -> Result<(), Failure> {
        match self {
            Self::Sftp(r) => r.remove(path).await,
            Self::Ftp(r) => r.remove(path).await,
        }
    }

    /// Replaces `to` with `from`.
    async fn replace(&mut self, from: &str, to: &str) -> Result<(), Failure> {
        self.remove(to).await?;
        match self {
            Self::Sftp(r) => r.rename(from, to).await,
            Self::Ftp(r) => r.rename(from, to).await,
        }
    }

    async fn writer(&mut self, path: &str, offset: u64) -> Result<Writer, Failure> {
        Ok(match self {
            Self::Sftp(r) => Writer::Sftp(Box::new(r.writer(path, offset).await?)),
            Self::Ftp(r) => Writer::Ftp(r.writer(path, offset).await?),
        })
    }

    /// Writes a small file whole: under a `.part` name, then renamed.
    async fn put_small(&mut self, path: &str, bytes: &[u8]) -> Result<(), Failure> {
        let part = format!("{path}.part");
        self.remove(&part).await?;
        let mut w = self.writer(&part, 0).await?;
        w.write(bytes).await?;
        w.finish().await?;
        self.replace(&part, path).await
    }

    async fn close(self) {
        match self {
            Self::Sftp(r) => r.close().await,
            Self::Ftp(r) => r.close().await,
        }
    }
}

impl Hub {
    /// Sends push `d` of `file` (as the hub holds it) to `target`.
    /// `moved`: whether the target kept more of the file than before.
    pub(super) async fn push_file(
        &self,
        d: &PushDelivery,
        target: &PushTarget,
        file: &RenditionFile,
        moved: &mut bool,
    ) -> Result<(), Failure> {
        let url = Url::parse(&target.url).map_err(|_| Failure::Final("the target's address is not a URL".into()))?;
        let addr = address(&self.webhook_guard, &url, target.kind).await?;
        let mut progress = Progress {
            hub: self,
            id: d.id.clone(),
            last: Instant::now(),
            first: None,
            moved,
        };
        let mut remote = match target.kind {
            TargetKind::S3 => return self.send_s3(d, target, &url, file, &mut progress).await,
            TargetKind::Ftp => Remote::Ftp(ftp::connect(addr, &target.username, target.secret.expose()).await?),
            TargetKind::Sftp => {
                let (conn, seen) = sftp::connect(
                    addr,
                    &target.username,
                    target.secret.expose(),
                    target.host_key.as_deref(),
                )
                .await?;
                if target.host_key.is_none() {
                    let id = target.id.clone();
                    let _ = self.catalog.write(move |tx| push::learn_host_key(tx, &id, &seen)).await;
                }
                Remote::Sftp(conn)
            }
        };
        let sent = self.send_file(d, &target.path, &mut remote, file, &mut progress).await;
        remote.close().await;
        sent
    }

    async fn send_file(
        &self,
        d: &PushDelivery,
        dir: &str,
        remote: &mut Remote,
        file: &RenditionFile,
        progress: &mut Progress<'_>,
    ) -> Result<(), Failure> {
        let whole = join(dir, &d.name);
        let part = join(dir, &format!("{}.{}.part", d.name, &d.sha256.hex()[..12]));
        let mut there = remote.size(&part).await?;
        if there.is_some_and(|n| n > d.size) {
            remote.remove(&part).await?;
            there = None;
        }
        let have = there.unwrap_or(0);
        // The MD5 of the whole file: the bytes already there are hashed from
        // the hub's own copy, not read back.
        let mut md5 = Md5::new();
        if have > 0 {
            let mut before = self.rendition_raw(file, Some(0..have)).await.map_err(open_failure)?;
            while let Some(chunk) = before.next().await {
                md5.update(&chunk.map_err(store_failure)?);
            }
        }
        progress.tick(have, true).await?;
        if there.is_none() || have < d.size {
            let mut w = remote.writer(&part, have).await?;
            let mut sent = have;
            if have < d.size {
                let mut rest = self
                    .rendition_raw(file, Some(have..d.size))
                    .await
                    .map_err(open_failure)?;
                while let Some(chunk) = rest.next().await {
                    let chunk = chunk.map_err(store_failure)?;
                    md5.update(&chunk);
                    w.write(&chunk).await?;
                    sent += chunk.len() as u64;
                    progress.tick(sent, false).await?;
                }
            }
            w.finish().await?;
        }
        match remote.size(&part).await? {
            Some(n) if n == d.size => {}
            Some(n) => {
                return Err(Failure::Retry(format!(
                    "the server holds {n} of the file's {} bytes; the rest is sent again",
                    d.size
                )))
            }
            None => return Err(Failure::Retry("the server did not keep the file".into())),
        }
        // Stopped meanwhile (the program changed or was withdrawn): the
        // file never takes its name.
        progress.tick(d.size, true).await?;
        remote.replace(&part, &whole).await?;
        let line = md5_line(md5, &d.name);
        remote.put_small(&format!("{whole}.md5"), line.as_bytes()).await
    }

    /// S3: the bucket is the path's first component, the rest a prefix.
    async fn send_s3(
        &self,
        d: &PushDelivery,
        target: &PushTarget,
        url: &Url,
        file: &RenditionFile,
        progress: &mut Progress<'_>,
    ) -> Result<(), Failure> {
        let path = target.path.trim_matches('/');
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        let region = url
            .query_pairs()
            .find(|(k, _)| k == "region")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "us-east-1".into());
        let mut endpoint = url.clone();
        endpoint.set_query(None);
        let settings = MediaSettings {
            store: StoreLocation::S3(S3Bucket {
                endpoint: endpoint.as_str().trim_end_matches('/').to_owned(),
                bucket: bucket.to_owned(),
                region,
                access_key_id: target.username.clone(),
                secret_access_key: target.secret.clone(),
                prefix: prefix.to_owned(),
            }),
            part_size: S3_PART,
            spool_root: std::env::temp_dir(),
            timeouts: StoreTimeouts {
                connect: Duration::from_secs(10),
                request: IO_TIMEOUT,
                retries: 5,
            },
        };
        let bucket =
            MediaStore::open(&settings).map_err(|_| Failure::Final("the bucket's settings are not usable".into()))?;
        let mut upload = match S3Resume::of(d) {
            Some(kept) => kept,
            None => {
                let id = bucket.parts_start(&d.name).await.map_err(s3_failure)?;
                let fresh = S3Resume {
                    sha256: d.sha256.hex(),
                    upload: id,
                    parts: Vec::new(),
                };
                self.keep_resume(d, Some(&fresh)).await?;
                fresh
            }
        };
        match self.send_parts(d, &bucket, file, &mut upload, progress).await {
            Ok(md5) => {
                self.keep_resume(d, None).await?;
                let mut sum = bucket.writer(&format!("{}.md5", d.name)).await.map_err(s3_failure)?;
                sum.write(md5_line(md5, &d.name).into_bytes().into())
                    .await
                    .map_err(s3_failure)?;
                sum.finish().await.map_err(s3_failure)?;
                Ok(())
            }
            Err(PartsFailure::Gone) => {
                // Aborted in the bucket meanwhile: the next attempt starts
                // a new upload.
                self.keep_resume(d, None).await?;
                Err(Failure::Retry(
                    "the bucket no longer held the upload; it starts again".into(),
                ))
            }
            Err(PartsFailure::Failed(f @ Failure::Final(_))) => {
                // Stopped, or no use going on: nothing stays half-sent in
                // the station's bucket.
                if let Err(e) = bucket.abort_multipart(&d.name, &upload.upload).await {
                    tracing::warn!(error = %e, "could not abort a push's upload in a station's bucket");
                }
                self.keep_resume(d, None).await?;
                Err(f)
            }
            Err(PartsFailure::Failed(f)) => Err(f),
        }
    }

    /// Sends what the bucket does not hold yet of `file`, part by part, each
    /// full part kept in the catalog as sent, then completes the upload;
    /// the MD5 of the whole file.
    async fn send_parts(
        &self,
        d: &PushDelivery,
        bucket: &MediaStore,
        file: &RenditionFile,
        upload: &mut S3Resume,
        progress: &mut Progress<'_>,
    ) -> Result<Md5, PartsFailure> {
        let part = S3_PART as u64;
        let mut held = upload.parts.len() as u64 * part;
        let mut md5 = Md5::new();
        if held > 0 {
            let mut before = self.rendition_raw(file, Some(0..held)).await.map_err(open_failure)?;
            while let Some(chunk) = before.next().await {
                md5.update(&chunk.map_err(store_failure)?);
            }
        }
        progress.tick(held, true).await?;
        let mut rest = self
            .rendition_raw(file, Some(held..d.size))
            .await
            .map_err(open_failure)?;
        let mut buf = bytes::BytesMut::with_capacity(S3_PART);
        loop {
            let chunk = rest.next().await.transpose().map_err(store_failure)?;
            let end = chunk.is_none();
            if let Some(chunk) = chunk {
                md5.update(&chunk);
                buf.extend_from_slice(&chunk);
            }
            // Full parts while more follows; the last (of any size) at the
            // end, not kept: completing it is the next step.
            while buf.len() >= S3_PART && held + part < d.size {
                let body = buf.split_to(S3_PART).freeze();
                let etag = self.put_part(bucket, d, upload, body).await?;
                upload.parts.push(etag);
                held += part;
                self.keep_resume(d, Some(upload)).await?;
                progress.tick(held, false).await?;
            }
            progress.tick(held, false).await?;
            if end {
                break;
            }
        }
        let mut parts = upload.parts.clone();
        if !buf.is_empty() || parts.is_empty() {
            parts.push(self.put_part(bucket, d, upload, buf.freeze()).await?);
        }
        // Stopped meanwhile: the file never takes its name.
        progress.tick(d.size, true).await?;
        bucket
            .parts_complete(&d.name, &upload.upload, &parts)
            .await
            .map_err(parts_failure)?;
        Ok(md5)
    }

    async fn put_part(
        &self,
        bucket: &MediaStore,
        d: &PushDelivery,
        upload: &S3Resume,
        body: bytes::Bytes,
    ) -> Result<String, PartsFailure> {
        let index = upload.parts.len();
        bucket
            .parts_put(&d.name, &upload.upload, index, body)
            .await
            .map_err(parts_failure)
    }

    /// Records what push `d` resumes from (`None`: nothing).
    async fn keep_resume(&self, d: &PushDelivery, upload: Option<&S3Resume>) -> Result<(), Failure> {
        let (id, json) = (
            d.id.clone(),
            upload.map(|u| serde_json::to_string(u).unwrap_or_default()),
        );
        self.catalog
            .write(move |tx| push::set_resume(tx, &id, json.as_deref()))
            .await
            .map_err(|_| Failure::Retry("the hub could not record the delivery's progress".into()))
    }
}

/// What a push into a bucket keeps between attempts: its multipart upload
/// for the content it sends, and the ETags of the full parts the bucket
/// holds, in order.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct S3Resume {
    sha256: String,
    upload: String,
    parts: Vec<String>,
}

impl S3Resume {
    /// What `d` kept, if it is for the content it sends now.
    fn of(d: &PushDelivery) -> Option<Self> {
        let kept: Self = serde_json::from_str(d.resume.as_deref()?).ok()?;
        (kept.sha256 == d.sha256.hex() && (kept.parts.len() as u64) * (S3_PART as u64) < d.size).then_some(kept)
    }
}

/// Why sending the parts stopped.
enum PartsFailure {
    /// The upload is no longer in the bucket.
    Gone,
    Failed(Failure),
}

impl From<Failure> for PartsFailure {
    fn from(f: Failure) -> Self {
        Self::Failed(f)
    }
}

fn parts_failure(e: MediaError) -> PartsFailure {
    match e {
        MediaError::NotFound => PartsFailure::Gone,
        e => PartsFailure::Failed(s3_failure(e)),
    }
}

/// An S3 error in the station's words.
fn s3_failure(e: MediaError) -> Failure {
    if e.is_unavailable() {
        dropped("could not reach the bucket, or the connection dropped")
    } else if e.is_denied() {
        Failure::Retry("the bucket refused the access key or secret".into())
    } else {
        tracing::warn!(error = %e, "a push to a bucket failed");
        Failure::Retry("the bucket refused the write (does the bucket exist?)".into())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;

    use super::*;
    use crate::exchange::delivery::webhooks::guard::Lookup;
    use crate::exchange::delivery::webhooks::WebhookPolicy;

    /// Knows a few names; sends nothing anywhere.
    struct Stub;

    impl Lookup for Stub {
        fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
            let found: Option<Vec<IpAddr>> = match host {
                "sftp.station.example" => Some(vec!["93.184.215.14".parse().unwrap()]),
                "inside.example" => Some(vec!["93.184.215.14".parse().unwrap(), "10.0.0.7".parse().unwrap()]),
                "loopback.example" => Some(vec!["127.0.0.1".parse().unwrap()]),
                _ => None,
            };
            Box::pin(async move { found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name")) })
        }
    }

    fn guard(allow: &str) -> Guard {
        let policy = WebhookPolicy {
            allow: WebhookPolicy::parse_allow(allow).unwrap(),
            ..Default::default()
        };
        Guard::new(policy, Arc::new(Stub))
    }

    async fn judged(g: &Guard, url: &str, kind: TargetKind) -> Result<SocketAddr, String> {
        address(g, &Url::parse(url).unwrap(), kind).await.map_err(|f| match f {
            Failure::Final(w) => format!("final: {w}"),
            Failure::Retry(w) => format!("retry: {w}"),
            Failure::Wait(_) | Failure::Later(..) => "wait".into(),
        })
    }

    #[tokio::test]
    async fn targets_are_reached_only_where_the_guard_allows() {
        let g = guard("");
        assert_eq!(
            judged(&g, "sftp://sftp.station.example", TargetKind::Sftp).await,
            Ok("93.184.215.14:22".parse().unwrap())
        );
        assert_eq!(
            judged(&g, "ftp://sftp.station.example:2121", TargetKind::Ftp).await,
            Ok("93.184.215.14:2121".parse().unwrap())
        );
        assert_eq!(
            judged(&g, "http://sftp.station.example", TargetKind::S3).await,
            Ok("93.184.215.14:80".parse().unwrap())
        );
        for refused in [
            "sftp://inside.example",
            "sftp://loopback.example",
            "sftp://127.0.0.1:22",
            "sftp://[::1]:22",
            "sftp://169.254.169.254",
            "sftp://[::ffff:10.0.0.1]",
        ] {
            let judged = judged(&g, refused, TargetKind::Sftp).await;
            assert!(
                judged.as_ref().is_err_and(|e| e.starts_with("final: refused")),
                "{refused}: {judged:?}"
            );
        }
        // A name that does not resolve may tomorrow: tried again.
        assert_eq!(
            judged(&g, "sftp://nowhere.example", TargetKind::Sftp).await,
            Err("retry: the host name does not resolve".into())
        );
        // The operator's allow list lets loopback through (as in tests).
        let g = guard("127.0.0.0/8");
        assert_eq!(
            judged(&g, "sftp://loopback.example:2222", TargetKind::Sftp).await,
            Ok("127.0.0.1:2222".parse().unwrap())
        );
    }

    #[test]
    fn paths_join_and_md5_lines_read_as_md5sum_writes_them() {
        assert_eq!(join("in/", "a.mp3"), "in/a.mp3");
        assert_eq!(join("", "a.mp3"), "a.mp3");
        assert_eq!(join("/srv/in", "a.mp3"), "/srv/in/a.mp3");
        let mut md5 = Md5::new();
        md5.update(b"abc");
        assert_eq!(md5_line(md5, "a.mp3"), "900150983cd24fb0d6963f7d28e17f72  a.mp3\n");
    }
}
