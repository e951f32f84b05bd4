//! The object store behind the hub: a local folder by default, any
//! S3-compatible store by configuration. `Arc<dyn ObjectStore>` is the
//! abstraction; `MediaStore` adds what the hub needs of it: streaming writes
//! that hash as they go, durable commits, ranged reads in large blocks.
//! Bytes in, bytes out: nothing here knows programs, stations, rights or the
//! catalog, and keys are made here, never from client text.

mod local_file;
mod resumable;
pub mod sha256;
mod writer;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::chunked::ChunkedStore;
use object_store::local::LocalFileSystem;
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore};

use crate::domain::Secret;
pub use resumable::{SinkState, SinkWriter};
use writer::Target;
pub use writer::{ObjectWriter, StoredObject};

/// Local reads go out in blocks of this size, not object_store's 8 KiB.
const LOCAL_READ_BLOCK: usize = 1024 * 1024;
/// Local writes go to disk in batches of this size: large enough for full
/// disk speed, small enough that many parallel uploads stay light.
const LOCAL_WRITE_BATCH: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("local file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("object not found")]
    NotFound,
}

impl MediaError {
    fn from_store(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            e => Self::Store(e),
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
}

#[derive(Clone)]
enum Backend {
    Local { root: PathBuf },
    S3 { signer: Arc<AmazonS3>, prefix: String },
}

/// The media store. Cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
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
                let local = LocalFileSystem::new_with_prefix(&root)?;
                Ok(Self {
                    store: Arc::new(ChunkedStore::new(Arc::new(local), LOCAL_READ_BLOCK)),
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
                let s3 = Arc::new(
                    AmazonS3Builder::new()
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
                        .build()?,
                );
                let prefix = prefix.trim_matches('/').to_owned();
                let whole: Arc<dyn ObjectStore> = s3.clone();
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    whole
                } else {
                    Arc::new(PrefixStore::new(whole, prefix.as_str()))
                };
                Ok(Self {
                    store,
                    backend: Backend::S3 { signer: s3, prefix },
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
                Target::Local(writer::LocalFile::create(root.join(key)).await?),
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
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&Self::path(key), options)
            .await
            .map_err(MediaError::from_store)?;
        Ok(result.into_stream().map_err(MediaError::from_store).boxed())
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
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object key under `blobs/`, with its age.
    pub async fn keys(&self) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, MediaError> {
        let prefix = ObjectPath::from("blobs");
        let mut out = Vec::new();
        let mut list = self.store.list(Some(&prefix));
        while let Some(meta) = list.next().await {
            let meta = meta?;
            out.push((meta.location.to_string(), meta.last_modified));
        }
        Ok(out)
    }

    /// Whether the store answers.
    pub async fn check(&self) -> Result<(), MediaError> {
        match self.store.head(&Self::path("readyz-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
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

    /// Removes the staging files that uploads of a crashed process left in a
    /// local store (S3 leaves none of these: its incomplete multipart uploads
    /// are aborted by the writer, or expire by the bucket's lifecycle).
    pub async fn sweep_local_staging(&self, older_than: Duration) -> Result<usize, MediaError> {
        let Backend::Local { root } = &self.backend else {
            return Ok(0);
        };
        let dir = root.join("blobs");
        blocking(move || {
            let mut removed = 0;
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            for entry in entries {
                let entry = entry?;
                let staged = writer::is_staging(&entry.file_name().to_string_lossy());
                let old = entry.metadata()?.modified()?.elapsed().unwrap_or_default() >= older_than;
                if staged && old {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
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

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MediaError> + Send + 'static,
) -> Result<T, MediaError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MediaError::Io(std::io::Error::other(e)))?
}
