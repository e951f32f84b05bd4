//! The object store behind the hub: a local folder by default, any
//! S3-compatible store by configuration. `Arc<dyn ObjectStore>` is the
//! abstraction; `MediaStore` adds what the hub needs of it: streaming writes
//! that hash as they go, durable commits, ranged reads in large blocks.
//! Bytes in, bytes out: nothing here knows programs, stations, rights or the
//! catalog, and keys are made here, never from client text.

mod local_file;
mod multipart_list;
mod parts;
mod resumable;
pub mod sha256;
mod writer;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore};

use crate::domain::Secret;
pub use multipart_list::PendingMultipart;
pub use resumable::{SinkState, SinkWriter};
use writer::Target;

/// A part of an upload being written: its part id in the store, when the
/// store numbers parts (S3). The local file and the writer both hand these on.
type PartTask = tokio::task::JoinHandle<Result<Option<object_store::multipart::PartId>, MediaError>>;
pub use writer::{ObjectWriter, StoredObject};

/// Local reads ([`LocalFile::into_stream`]) read blocks of this size, not object_store's 8 KiB.
pub const LOCAL_READ_BLOCK: usize = 1024 * 1024;

/// Where `key` is under the local store's `root`. Keys are the hub's own,
/// never a client's text; still, one that could leave the folder (absolute,
/// or with an empty, `.` or `..` part) names nothing, as object_store's
/// paths would not have either.
fn local_path(root: &Path, key: &str) -> Result<PathBuf, MediaError> {
    if key
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(MediaError::NotFound);
    }
    Ok(root.join(key))
}

/// What a local read hands on at once: an eighth of a block, so that the
/// server's write buffer (`app::WRITE_BUFFER`, a block) fills with whole
/// parts and is kept from one write to the next.
pub const SEND_BLOCK: usize = LOCAL_READ_BLOCK / 8;

/// A local object opened for reading: the file and the part of it asked
/// for, checked against its size when it was opened. The server may hand it
/// to the socket itself (`sendfile`, see `api::direct_send`); otherwise
/// [`LocalFile::into_stream`] reads it.
pub struct LocalFile {
    pub file: Arc<std::fs::File>,
    pub range: Range<u64>,
}

impl LocalFile {
    /// Opens `path` for `range` (all of it when `None`; an end past the
    /// file's is the file's, as object_store has it), off the async threads.
    async fn open(path: PathBuf, range: Option<Range<u64>>) -> Result<Self, MediaError> {
        let (file, size) = blocking(move || {
            let opened = std::fs::File::open(&path).and_then(|f| Ok((f.metadata()?, f)));
            match opened {
                // A folder where an object should be is no object (as object_store had it).
                Ok((meta, file)) if meta.is_file() => Ok((file, meta.len())),
                Ok(_) => Err(MediaError::NotFound),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MediaError::NotFound),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        let range = range.unwrap_or(0..size);
        if range.start > range.end || (range.start >= size && range.start > 0) {
            let e = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("range {range:?} of an object of {size} bytes"),
            );
            return Err(MediaError::Io(e));
        }
        Ok(LocalFile {
            file: Arc::new(file),
            range: range.start..range.end.min(size),
        })
    }

    /// The bytes, read off the async threads in blocks of
    /// [`LOCAL_READ_BLOCK`] and handed on in parts of [`SEND_BLOCK`].
    ///
    /// Every block is read into the same buffer, taken back once the
    /// response has let go of the block before (it copies each part as it
    /// comes), and the parts fit the response's own buffer: neither side
    /// allocates per block. A fresh 1 MiB block each time was a fresh
    /// mapping from malloc (blocks of 1 MiB are mapped on their own, see
    /// `exchange::password_gate`), and so was the response buffer grown to
    /// hold it, each faulted in page by page and unmapped once sent: local
    /// downloads went at a third of nginx's speed (BENCHMARKS.md, scenario 3).
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, MediaError>> {
        struct Read {
            file: Arc<std::fs::File>,
            at: u64,
            end: u64,
            buf: bytes::BytesMut,
            /// What is read and not yet handed on.
            block: Bytes,
        }
        let state = Read {
            file: self.file,
            at: self.range.start,
            end: self.range.end,
            buf: bytes::BytesMut::new(),
            block: Bytes::new(),
        };
        futures_util::stream::unfold(state, |mut s| async move {
            if !s.block.is_empty() {
                let part = s.block.split_to(s.block.len().min(SEND_BLOCK));
                return Some((Ok(part), s));
            }
            if s.at >= s.end {
                return None;
            }
            let want = usize::try_from(s.end - s.at)
                .unwrap_or(usize::MAX)
                .min(LOCAL_READ_BLOCK);
            let mut buf = std::mem::take(&mut s.buf);
            // Takes the allocation back: every part of the last block is gone.
            buf.reserve(LOCAL_READ_BLOCK);
            let (file, at) = (s.file.clone(), s.at);
            let read = blocking(move || {
                let n = pread(&file, &mut buf, want, at)?;
                Ok((buf, n))
            })
            .await;
            let failed = match read {
                Ok((mut buf, n)) if n > 0 => {
                    s.at += n as u64;
                    s.block = buf.split().freeze();
                    s.buf = buf;
                    let part = s.block.split_to(s.block.len().min(SEND_BLOCK));
                    return Some((Ok(part), s));
                }
                // The file is shorter than it was when opened.
                Ok(_) => MediaError::Io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                Err(e) => e,
            };
            s.at = s.end;
            Some((Err(failed), s))
        })
        .boxed()
    }
}

/// Reads up to `want` bytes of `file` at `offset` into `buf`'s spare
/// room (which has at least that much), retrying when interrupted; returns
/// how many were read (0 at the end of the file).
fn pread(file: &std::fs::File, buf: &mut bytes::BytesMut, want: usize, offset: u64) -> std::io::Result<usize> {
    use bytes::BufMut;
    use std::os::fd::AsRawFd;
    let offset = libc::off_t::try_from(offset).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let spare = buf.chunk_mut();
    let want = want.min(spare.len());
    loop {
        // SAFETY: the kernel writes at most `want` bytes at the pointer, and
        // the spare room is valid for that many writes (uninitialised bytes
        // may be written to); only the bytes it reports written are then
        // counted as initialised.
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), want, offset) };
        if n >= 0 {
            let n = n as usize;
            // SAFETY: `n` bytes were just written into the spare room.
            unsafe { buf.advance_mut(n) };
            return Ok(n);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
/// Local writes go to disk in batches of this size: large enough for full
/// disk speed, small enough that many parallel uploads stay light.
const LOCAL_WRITE_BATCH: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("object store: {0}")]
    Store(object_store::Error),
    #[error("local file system: {0}")]
    Io(std::io::Error),
    #[error("object not found")]
    NotFound,
    /// The store did not answer, timed out, refused the connection or
    /// answered that it is overloaded or failing (5xx): worth trying again
    /// later, and not the request's fault.
    #[error("the object store is unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// The local file system has no room (or quota) left.
    #[error("the local store is full: {0}")]
    Full(std::io::Error),
}

impl From<std::io::Error> for MediaError {
    fn from(e: std::io::Error) -> Self {
        if is_full(&e) {
            Self::Full(e)
        } else {
            Self::Io(e)
        }
    }
}

impl From<object_store::Error> for MediaError {
    fn from(e: object_store::Error) -> Self {
        if is_full_chain(&e) {
            let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
            return Self::Full(io);
        }
        if is_unavailable(&e) {
            return Self::Unavailable(Box::new(e));
        }
        Self::Store(e)
    }
}

impl MediaError {
    fn from_store(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            e => e.into(),
        }
    }

    /// Whether trying again later may succeed (the store is down, slow or
    /// failing), as opposed to a fault of the hub or of the request.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Whether the store refused the credentials (401, 403).
    pub fn is_denied(&self) -> bool {
        matches!(
            self,
            Self::Store(object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. })
        )
    }
}

/// Whether `e` says the disk (or the user's quota) is full.
fn is_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.raw_os_error().is_some_and(|c| c == libc::ENOSPC || c == libc::EDQUOT)
}

/// Whether an error somewhere in `e`'s chain of causes is a full disk.
fn is_full_chain(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(is_full) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Whether the chain of causes of `e` says the store could not be reached
/// or answered a server-side failure: a transport error (refused, reset,
/// timed out, cut short), or a 5xx / 429 / 408 status once retries were
/// spent. object_store does not export its retry error, so the status is
/// read from its message (`Server returned non-2xx status code: 503 …`).
fn is_unavailable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<object_store::client::HttpError>().is_some() {
            return true;
        }
        if let Some(r) = c.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() || r.is_connect() || r.is_request() || r.is_body() {
                return true;
            }
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::TimedOut
                    | K::BrokenPipe
                    | K::UnexpectedEof
            ) {
                return true;
            }
        }
        let text = c.to_string();
        if let Some(rest) = text.strip_prefix("Server returned non-2xx status code: ") {
            let status: u16 = rest.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
            if status >= 500 || status == 429 || status == 408 {
                return true;
            }
        }
        if text.starts_with("Server returned error response: ") {
            // A 200 whose body says InternalError or SlowDown.
            return true;
        }
        cause = c.source();
    }
    false
}

/// How long S3 requests may take, and how often a failed one is tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoreTimeouts {
    /// Connecting to the store.
    pub connect: Duration,
    /// One request, from connecting to the last byte of its answer (a
    /// stream read is resumed with a ranged request past it).
    pub request: Duration,
    /// Tries after the first for a request that failed in a way worth
    /// retrying (0: none).
    pub retries: usize,
}

impl Default for StoreTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(30),
            retries: 2,
        }
    }
}

impl StoreTimeouts {
    /// The readiness probe's: one short try.
    fn probe() -> Self {
        Self {
            connect: Duration::from_millis(500),
            request: Duration::from_secs(1),
            retries: 0,
        }
    }

    fn client_options(&self) -> object_store::ClientOptions {
        object_store::ClientOptions::new()
            .with_connect_timeout(self.connect)
            .with_timeout(self.request)
    }

    fn retry(&self) -> object_store::RetryConfig {
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: self.retries,
            // Past this, no new try starts.
            retry_timeout: self.request + Duration::from_secs(2),
        }
    }
}

/// An S3-compatible bucket, and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Bucket {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Key prefix inside the bucket, so several hubs can share one.
    pub prefix: String,
}

/// Where the objects live.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreLocation {
    /// A local folder.
    Local {
        root: PathBuf,
    },
    S3(S3Bucket),
}

/// What the media store needs to know; the hub's settings make one.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSettings {
    pub store: StoreLocation,
    /// Size of the parts an upload is written in (an S3 multipart part).
    pub part_size: usize,
    /// Where resumable uploads wait: their spool files, or on S3 their tails.
    pub spool_root: PathBuf,
    /// S3 timeouts and retries.
    pub timeouts: StoreTimeouts,
}

#[derive(Clone)]
enum Backend {
    Local {
        root: PathBuf,
    },
    S3 {
        signer: Arc<AmazonS3>,
        prefix: String,
        lister: Arc<multipart_list::Lister>,
    },
}

/// The media store. Cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    /// The same store with one short try per request, for readiness.
    probe: Arc<dyn ObjectStore>,
    backend: Backend,
    part_size: usize,
    /// Where the tails of resumable uploads to S3 wait.
    spool_root: PathBuf,
}

impl MediaStore {
    pub fn open(settings: &MediaSettings) -> Result<Self, MediaError> {
        let part_size = settings.part_size;
        match &settings.store {
            StoreLocation::Local { root } => {
                std::fs::create_dir_all(root)?;
                let root = std::fs::canonicalize(root)?;
                let local = Arc::new(LocalFileSystem::new_with_prefix(&root)?);
                Ok(Self {
                    probe: local.clone(),
                    // Reads go through `LocalFile`, not this.
                    store: local,
                    backend: Backend::Local { root },
                    part_size,
                    spool_root: settings.spool_root.clone(),
                })
            }
            StoreLocation::S3(S3Bucket {
                endpoint,
                bucket,
                region,
                access_key_id,
                secret_access_key,
                prefix,
            }) => {
                let build = |t: StoreTimeouts| {
                    AmazonS3Builder::new()
                        // First: the options replace the builder's own,
                        // `allow_http` among them.
                        .with_client_options(t.client_options())
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_bucket_name(bucket)
                        .with_region(region)
                        .with_access_key_id(access_key_id)
                        .with_secret_access_key(secret_access_key.expose())
                        // The hub hashes every byte itself (SHA-256, verified
                        // and scrubbed); signing each part's payload as well
                        // would hash it all a second time.
                        .with_unsigned_payload(true)
                        .with_retry(t.retry())
                        .build()
                };
                let s3 = Arc::new(build(settings.timeouts)?);
                let probe = Arc::new(build(StoreTimeouts::probe())?);
                let prefix = prefix.trim_matches('/').to_owned();
                let prefixed = |whole: Arc<dyn ObjectStore>| -> Arc<dyn ObjectStore> {
                    if prefix.is_empty() {
                        whole
                    } else {
                        Arc::new(PrefixStore::new(whole, prefix.as_str()))
                    }
                };
                let bucket = S3Bucket {
                    endpoint: endpoint.clone(),
                    bucket: bucket.clone(),
                    region: region.clone(),
                    access_key_id: access_key_id.clone(),
                    secret_access_key: secret_access_key.clone(),
                    prefix: prefix.clone(),
                };
                Ok(Self {
                    store: prefixed(s3.clone()),
                    probe: prefixed(probe),
                    backend: Backend::S3 {
                        signer: s3,
                        prefix,
                        lister: Arc::new(multipart_list::Lister::new(&bucket, settings.timeouts)?),
                    },
                    part_size,
                    spool_root: settings.spool_root.clone(),
                })
            }
        }
    }

    /// A fresh key for a new object. Never derived from anything a client sent.
    pub fn new_key() -> String {
        format!("blobs/{}", uuid::Uuid::new_v4().simple())
    }

    fn path(key: &str) -> ObjectPath {
        ObjectPath::from(key)
    }

    /// Starts writing a new object at `key`; nothing is visible there until
    /// [`ObjectWriter::finish`].
    pub async fn writer(&self, key: &str) -> Result<ObjectWriter, MediaError> {
        Ok(match &self.backend {
            Backend::Local { root } => ObjectWriter::new(
                key.to_owned(),
                Target::Local(local_file::LocalFile::create(root.join(key)).await?),
                LOCAL_WRITE_BATCH,
            ),
            Backend::S3 { signer, .. } => {
                let path = self.full_path(key);
                let id = signer.create_multipart(&path).await?;
                let target = Target::S3 {
                    store: signer.clone(),
                    path,
                    id,
                    parts: Vec::new(),
                };
                ObjectWriter::new(key.to_owned(), target, self.part_size)
            }
        })
    }

    /// Aborts the S3 multipart upload `id` of `key` that a crashed process
    /// left behind.
    pub async fn abort_multipart(&self, key: &str, id: &str) -> Result<(), MediaError> {
        let Backend::S3 { signer, .. } = &self.backend else {
            return Ok(());
        };
        match signer.abort_multipart(&self.full_path(key), &id.to_owned()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The path of `key` in the whole bucket (the prefix included).
    fn full_path(&self, key: &str) -> ObjectPath {
        match &self.backend {
            Backend::S3 { prefix, .. } if !prefix.is_empty() => ObjectPath::from(format!("{prefix}/{key}")),
            _ => ObjectPath::from(key),
        }
    }

    /// The bytes of `key` in `range` (all of it when `None`), streamed.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, MediaError>>, MediaError> {
        if let Backend::Local { root } = &self.backend {
            return Ok(LocalFile::open(local_path(root, key)?, range).await?.into_stream());
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&Self::path(key), options)
            .await
            .map_err(MediaError::from_store)?;
        let (start, end) = (result.range.start, result.range.end);
        let first = result.into_stream().map_err(MediaError::from_store).boxed();
        Ok(self.resuming(key, start..end, first))
    }

    /// The local object `key`, opened for `range` (all of it when `None`),
    /// for the server to send as it sees fit; `None` with an S3 store.
    pub async fn local_file(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<LocalFile>, MediaError> {
        match &self.backend {
            Backend::Local { root } => Ok(Some(LocalFile::open(local_path(root, key)?, range).await?)),
            _ => Ok(None),
        }
    }

    /// An S3 read that outlives its request: each request is bounded by
    /// `storage_timeout_secs` (so that a store gone silent is noticed), and a
    /// read cut by that timeout, or by a broken connection, goes on with a
    /// ranged request from where it stopped, for as long as each try moves
    /// it forward. A try that brings nothing ends the read with its error.
    fn resuming(
        &self,
        key: &str,
        range: Range<u64>,
        first: BoxStream<'static, Result<Bytes, MediaError>>,
    ) -> BoxStream<'static, Result<Bytes, MediaError>> {
        struct Read {
            store: Arc<dyn ObjectStore>,
            path: ObjectPath,
            next: u64,
            end: u64,
            inner: Option<BoxStream<'static, Result<Bytes, MediaError>>>,
            /// Bytes received since the current request began.
            progress: u64,
        }
        let state = Read {
            store: self.store.clone(),
            path: Self::path(key),
            next: range.start,
            end: range.end,
            inner: Some(first),
            progress: 0,
        };
        futures_util::stream::unfold(state, |mut s| async move {
            loop {
                if s.next >= s.end {
                    return None;
                }
                let inner = s.inner.as_mut()?;
                match inner.next().await {
                    Some(Ok(bytes)) => {
                        s.next += bytes.len() as u64;
                        s.progress += bytes.len() as u64;
                        return Some((Ok(bytes), s));
                    }
                    Some(Err(e)) if e.is_unavailable() && s.progress > 0 => {
                        tracing::debug!(error = %e, at = s.next, "resuming a read");
                        s.progress = 0;
                        let options = GetOptions {
                            range: Some(GetRange::Bounded(s.next..s.end)),
                            ..Default::default()
                        };
                        match s.store.get_opts(&s.path, options).await {
                            Ok(r) => s.inner = Some(r.into_stream().map_err(MediaError::from_store).boxed()),
                            Err(e) => {
                                s.inner = None;
                                return Some((Err(MediaError::from_store(e)), s));
                            }
                        }
                    }
                    Some(Err(e)) => {
                        s.inner = None;
                        return Some((Err(e), s));
                    }
                    None => {
                        // The store ended the answer before its last byte.
                        s.inner = None;
                        let short = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
                        return Some((Err(MediaError::Unavailable(Box::new(short))), s));
                    }
                }
            }
        })
        .boxed()
    }

    /// The size of `key`, or `NotFound`.
    pub async fn size(&self, key: &str) -> Result<u64, MediaError> {
        Ok(self
            .store
            .head(&Self::path(key))
            .await
            .map_err(MediaError::from_store)?
            .size)
    }

    /// Removes `key`; an object already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), MediaError> {
        match self.store.delete(&Self::path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        // A local preview folder goes with its last object (it fails, as
        // it should, while another object is in it).
        if let (Backend::Local { root }, Some(_)) = (&self.backend, key.strip_prefix("previews/")) {
            if let Some(folder) = root.join(key).parent() {
                let _ = tokio::fs::remove_dir(folder).await;
            }
        }
        Ok(())
    }

    /// Every object key under `blobs/`, with its age.
    pub async fn keys(&self) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, MediaError> {
        self.keys_under("blobs").await
    }

    /// Every preview object key (`previews/<sha256>/…`), with its age.
    pub async fn preview_keys(&self) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, MediaError> {
        self.keys_under(PREVIEWS).await
    }

    async fn keys_under(&self, folder: &str) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, MediaError> {
        let prefix = ObjectPath::from(folder);
        let mut out = Vec::new();
        let mut list = self.store.list(Some(&prefix));
        while let Some(meta) = list.next().await {
            let meta = meta?;
            out.push((meta.location.to_string(), meta.last_modified));
        }
        Ok(out)
    }

    /// S3 multipart uploads under the hub's prefix that were begun and
    /// neither completed nor aborted (none on the local store).
    pub async fn pending_multiparts(&self) -> Result<Vec<PendingMultipart>, MediaError> {
        match &self.backend {
            Backend::Local { .. } => Ok(Vec::new()),
            Backend::S3 { lister, prefix, .. } => {
                let mut all = lister.list(prefix, "blobs/").await?;
                all.extend(lister.list(prefix, &format!("{PREVIEWS}/")).await?);
                Ok(all)
            }
        }
    }

    /// Whether the store answers: one try, within about a second (no
    /// retries, so that a store that is down says so at once).
    pub async fn check(&self) -> Result<(), MediaError> {
        let path = Self::path("readyz-probe");
        let probe = self.probe.head(&path);
        match tokio::time::timeout(Duration::from_millis(1500), probe).await {
            Ok(Ok(_) | Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(elapsed) => Err(MediaError::Unavailable(Box::new(elapsed))),
        }
    }

    /// A short-lived URL that serves `key` straight from S3, when the store
    /// can make one.
    pub async fn presigned_url(&self, key: &str, ttl: Duration) -> Result<Option<url::Url>, MediaError> {
        match &self.backend {
            Backend::Local { .. } => Ok(None),
            Backend::S3 { signer, .. } => Ok(Some(
                signer.signed_url(http::Method::GET, &self.full_path(key), ttl).await?,
            )),
        }
    }

    /// Starts writing `key` again, for a key only one writer at a time may
    /// write (a preview, whose job holds a lease): on a local store, the
    /// staging file a killed writer of the same key left is replaced instead
    /// of refusing the write.
    pub async fn rewriter(&self, key: &str) -> Result<ObjectWriter, MediaError> {
        if let Backend::Local { root } = &self.backend {
            let mut name = root.join(key).into_os_string();
            name.push(local_file::STAGING_SUFFIX);
            blocking(move || match std::fs::remove_file(&name) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            })
            .await?;
        }
        self.writer(key).await
    }

    /// Removes the staging files that uploads of a crashed process left in a
    /// local store, under `blobs/` and `previews/<sha256>/` (S3 has none: its
    /// incomplete multipart uploads are aborted by the writer, or by the
    /// sweeper from their rows or from the store's listing), and preview
    /// folders left empty. Staging files of the keys `active` names (being
    /// written now) stay.
    pub async fn sweep_local_staging(
        &self,
        older_than: Duration,
        active: impl Fn(&str) -> bool + Send + 'static,
    ) -> Result<usize, MediaError> {
        let Backend::Local { root } = &self.backend else {
            return Ok(0);
        };
        let root = root.clone();
        blocking(move || {
            // An entry gone meanwhile (a writer renamed it) is skipped.
            let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
            let old = |entry: &std::fs::DirEntry| -> std::io::Result<bool> {
                match entry.metadata().and_then(|m| m.modified()) {
                    Ok(t) => Ok(t.elapsed().unwrap_or_default() >= older_than),
                    Err(e) if gone(&e) => Ok(false),
                    Err(e) => Err(e),
                }
            };
            let mut removed = 0;
            let mut folders = vec!["blobs".to_owned()];
            for entry in read_dir_if_any(&root.join(PREVIEWS))? {
                let entry = entry?;
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    folders.push(format!("{PREVIEWS}/{}", entry.file_name().to_string_lossy()));
                }
            }
            for folder in folders {
                let mut kept = 0;
                for entry in read_dir_if_any(&root.join(&folder))? {
                    let entry = entry?;
                    kept += 1;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let key = format!("{folder}/{}", name.split('#').next().unwrap_or_default());
                    if local_file::is_staging(&name) && !active(&key) && old(&entry)? {
                        match std::fs::remove_file(entry.path()) {
                            Err(e) if !gone(&e) => return Err(e.into()),
                            _ => {}
                        }
                        removed += 1;
                        kept -= 1;
                    }
                }
                // A preview folder whose objects are all gone (a writer
                // makes it again, and retries once should it vanish between).
                if kept == 0 && folder.starts_with(PREVIEWS) && !active(&format!("{folder}/")) {
                    let _ = std::fs::remove_dir(root.join(&folder));
                }
            }
            Ok(removed)
        })
        .await
    }

    /// Where `key`'s bytes are on this machine, for a local store.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        match &self.backend {
            Backend::Local { root } => Some(root.join(key)),
            Backend::S3 { .. } => None,
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }
}

/// Where previews are stored: `previews/<sha256 of the file>/<name>`.
const PREVIEWS: &str = "previews";

/// The entries of `dir`; none when it does not exist.
fn read_dir_if_any(dir: &Path) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<std::fs::DirEntry>>>> {
    match std::fs::read_dir(dir) {
        Ok(e) => Ok(Box::new(e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Box::new(std::iter::empty())),
        Err(e) => Err(e),
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MediaError> + Send + 'static,
) -> Result<T, MediaError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MediaError::Io(std::io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a local read gives for `range` of `path`, joined.
    async fn local(path: &Path, range: Option<Range<u64>>) -> Result<Vec<u8>, MediaError> {
        let mut stream = LocalFile::open(path.to_owned(), range).await?.into_stream();
        let mut out = Vec::new();
        while let Some(block) = stream.next().await {
            out.extend_from_slice(&block?);
        }
        Ok(out)
    }

    #[test]
    fn a_local_key_never_leaves_the_store() {
        let root = Path::new("/srv/pxhub/media");
        assert_eq!(local_path(root, "blobs/ab/cd").unwrap(), root.join("blobs/ab/cd"));
        for key in [
            "/etc/passwd",
            "../x",
            "blobs/../../x",
            "blobs//x",
            "./x",
            "blobs/.",
            "",
            "blobs/",
        ] {
            assert!(matches!(local_path(root, key), Err(MediaError::NotFound)), "{key:?}");
        }
    }

    #[tokio::test]
    async fn local_reads_give_exactly_the_range_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        let size = 2 * LOCAL_READ_BLOCK + 1234;
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let b = LOCAL_READ_BLOCK as u64;
        let n = size as u64;
        assert_eq!(local(&path, None).await.unwrap(), bytes);
        for r in [
            0..1,
            0..b,
            b - 1..b + 1,
            b..2 * b,
            5..n,
            n - 1..n,
            7..n + 100,
            3..3,
            0..0,
        ] {
            let want = &bytes[r.start as usize..(r.end.min(n)) as usize];
            assert_eq!(local(&path, Some(r.clone())).await.unwrap(), want, "{r:?}");
        }
        for r in [n..n + 1, n + 5..n + 9] {
            assert!(
                matches!(local(&path, Some(r.clone())).await, Err(MediaError::Io(_))),
                "{r:?}"
            );
        }
        assert!(matches!(
            local(&dir.path().join("none"), None).await,
            Err(MediaError::NotFound)
        ));
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        assert!(matches!(
            local(&dir.path().join("folder"), None).await,
            Err(MediaError::NotFound)
        ));
        // An empty object reads as nothing.
        std::fs::write(&path, b"").unwrap();
        assert!(local(&path, None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn local_reads_use_one_buffer_when_each_part_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        std::fs::write(&path, vec![7u8; 4 * LOCAL_READ_BLOCK]).unwrap();
        let mut stream = LocalFile::open(path, None).await.unwrap().into_stream();
        let mut parts = Vec::new();
        while let Some(part) = stream.next().await {
            let part = part.unwrap();
            assert!(!part.is_empty() && part.len() <= SEND_BLOCK, "{}", part.len());
            parts.push((part.as_ptr() as usize, part.len()));
            // The response copies the part and lets it go, as here.
        }
        assert_eq!(parts.iter().map(|p| p.1).sum::<usize>(), 4 * LOCAL_READ_BLOCK);
        let first = parts[0].0;
        assert!(
            parts
                .iter()
                .all(|&(p, n)| p >= first && p + n <= first + LOCAL_READ_BLOCK),
            "every part in the one buffer"
        );

        // A part still held is never written over.
        let dir2 = tempfile::tempdir().unwrap();
        let path = dir2.path().join("object");
        let bytes: Vec<u8> = (0..3 * LOCAL_READ_BLOCK)
            .map(|i| (i / LOCAL_READ_BLOCK) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        let held: Vec<Bytes> = LocalFile::open(path, None)
            .await
            .unwrap()
            .into_stream()
            .map(|b| b.unwrap())
            .collect()
            .await;
        assert_eq!(held.concat(), bytes);
    }

    #[test]
    fn a_full_disk_is_told_apart() {
        let full = MediaError::from(std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(matches!(full, MediaError::Full(_)), "{full:?}");
        let quota = MediaError::from(std::io::Error::from_raw_os_error(libc::EDQUOT));
        assert!(matches!(quota, MediaError::Full(_)), "{quota:?}");
        let other = MediaError::from(std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(other, MediaError::Io(_)), "{other:?}");
    }

    /// A store nobody listens for: unavailable (not an internal error), and
    /// said at once, after `retries` quick tries.
    #[tokio::test]
    async fn a_store_that_refuses_is_unavailable() {
        // A port just freed: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(&MediaSettings {
            store: StoreLocation::S3(S3Bucket {
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket: "b".into(),
                region: "garage".into(),
                access_key_id: "GK0".into(),
                secret_access_key: Secret::new("s".to_owned()),
                prefix: "p".into(),
            }),
            part_size: 5 << 20,
            spool_root: dir.path().to_owned(),
            timeouts: StoreTimeouts::default(),
        })
        .unwrap();
        let e = store.writer("blobs/x").await.err().expect("no store there");
        assert!(e.is_unavailable(), "{e:?}");
        let e = store.read("blobs/x", None).await.err().expect("no store there");
        assert!(e.is_unavailable(), "{e:?}");
        assert!(store.check().await.unwrap_err().is_unavailable());
        assert!(store.sink_create("u1").await.unwrap_err().is_unavailable());
    }
}
