//! Everything SQLite: the connection pool, migrations, and small query
//! functions per entity that take a connection or a transaction; rows are
//! parsed into domain types as they are read. Nothing here knows the media
//! store, the settings or HTTP, and no business rule lives here (who may do
//! what is `exchange`'s).

pub mod analysis;
pub mod bits;
pub mod download_lists;
pub mod events;
pub mod follows;
pub mod index;
pub mod ledger;
pub mod media;
pub mod peers;
pub mod people;
pub mod programs;
pub mod push;
pub mod renditions;
pub mod search;
pub mod stations;
pub mod tokens;
pub mod tus;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{OpenFlags, OptionalExtension, TransactionBehavior};

/// What the use-cases hold while they read or write, and the catalog's own
/// error: the layers above name these, never the database crate.
pub use rusqlite::{Connection, Error as DbError, Result as DbResult, Transaction};

/// A failure of the catalog, as the layers above carry it: internal, logged,
/// never shown.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CatalogError(#[from] DbError);

/// A value of the hub's own settings table (`hub_settings`).
pub fn hub_setting(conn: &Connection, key: &str) -> DbResult<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM hub_settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

pub fn set_hub_setting(conn: &Connection, key: &str, value: &[u8]) -> DbResult<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO hub_settings (key, value) VALUES (?1, ?2)")?
        .execute(rusqlite::params![key, value])?;
    Ok(())
}

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_media.sql"),
    include_str!("migrations/0003_ledger.sql"),
    include_str!("migrations/0004_resumable.sql"),
    include_str!("migrations/0005_feed.sql"),
    include_str!("migrations/0006_webhook_tokens.sql"),
    include_str!("migrations/0007_people.sql"),
    include_str!("migrations/0008_analysis.sql"),
    include_str!("migrations/0009_follows.sql"),
    include_str!("migrations/0010_people_manage.sql"),
    include_str!("migrations/0011_renditions.sql"),
    include_str!("migrations/0012_push.sql"),
    include_str!("migrations/0013_peers.sql"),
    include_str!("migrations/0014_push_renditions.sql"),
    include_str!("migrations/0015_last_visit.sql"),
    include_str!("migrations/0016_peer_waits.sql"),
    include_str!("migrations/0017_list_follows.sql"),
];

/// The most idle read connections kept open.
const MAX_IDLE_READERS: usize = 16;
/// SQLite's page cache per connection, in KiB (as `cache_size` takes it: negative).
const READER_CACHE_KIB: i64 = -2048;
const WRITER_CACHE_KIB: i64 = -65536;

/// The catalog database: one writer at a time (SQLite's rule), many readers
/// in parallel (WAL). Every call runs on tokio's blocking pool, never on the
/// async workers.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

/// How the catalog is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogOptions {
    /// Write-ahead log pages after which a commit checkpoints (SQLite's
    /// `wal_autocheckpoint`); 0: never, when another process (Litestream)
    /// owns the checkpoints.
    pub wal_autocheckpoint: u32,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        // SQLite's own default.
        Self {
            wal_autocheckpoint: 1000,
        }
    }
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Writes finished (committed or rolled back) since the catalog was
    /// opened: see [`Catalog::writes_done`].
    writes_done: Arc<AtomicU64>,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        Self::open_with(path, CatalogOptions::default())
    }

    /// [`Catalog::open`] with `options`.
    pub fn open_with(path: &Path, options: CatalogOptions) -> Result<Self, rusqlite::Error> {
        let mut writer = open_connection(path, false)?;
        // Only the writer commits, so only its setting matters.
        writer.pragma_update(None, "wal_autocheckpoint", options.wal_autocheckpoint)?;
        migrate(&mut writer, path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                writes_done: Arc::default(),
            }),
        })
    }

    /// Runs `f` on a read-only connection.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let reader = inner.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match reader {
                Some(c) => c,
                None => open_connection(&inner.path, true)?,
            };
            let result = f(&conn);
            let mut idle = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
    }

    /// Runs `f` in one immediate transaction, committed when `f` returns `Ok`.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || inner.write_now(f)).await
    }

    /// The same as [`Catalog::write`], for callers that are not async (the
    /// command line).
    pub fn write_blocking<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, E>,
        E: From<rusqlite::Error>,
    {
        self.inner.write_now(f)
    }

    /// How many writes ([`Catalog::write`], [`Catalog::write_blocking`]) have
    /// finished, committed or rolled back: counted once each write's
    /// connection has let go of it, so a reader that reads `n` here and then
    /// starts a statement sees what all `n` of them committed. Writes take
    /// turns, so the write under way while this reads `n` is the `n + 1`th
    /// (the search index tags what each write changed with it).
    pub fn writes_done(&self) -> Arc<AtomicU64> {
        self.inner.writes_done.clone()
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), rusqlite::Error> {
        self.read(|c| c.query_row("SELECT count(*) FROM stations", [], |_| Ok(())))
            .await
    }
}

impl Inner {
    fn write_now<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, E>,
        E: From<rusqlite::Error>,
    {
        /// Counts the write as done when it ends, however it ends (a panic
        /// in `f` included); declared after the lock, so dropped before it.
        struct Done<'a>(&'a AtomicU64);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Release);
            }
        }
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _done = Done(&self.writes_done);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = f(&tx)?;
        tx.commit()?;
        Ok(r)
    }
}

async fn run_blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, rusqlite::Error> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 1073741824;",
    )?;
    // The database file is read through the map, not the page cache; a
    // reader's cache holds mostly pages of the write-ahead log. Up to 16
    // readers with 64 MiB each grew the server's private memory by 500 MiB
    // under search load at a million programs (8 MiB each: 150 MiB, see
    // BENCHMARKS.md); the writer keeps 64 MiB.
    conn.pragma_update(
        None,
        "cache_size",
        if read_only { READER_CACHE_KIB } else { WRITER_CACHE_KIB },
    )?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies the embedded migrations that `user_version` says are missing.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), rusqlite::Error> {
    migrate_with(conn, path, MIGRATIONS).map(drop)
}

/// Applies those of `migrations` that `user_version` says are missing, all in
/// one transaction: they all apply, or the catalog is left as it was (and a
/// hub of the old version still opens it). Before any of them, a catalog
/// that holds data is copied beside itself with SQLite's backup API (a
/// consistent copy even while others read it); the log says where, and so
/// does the error of a migration that failed. Returns that copy.
///
/// Foreign keys are off while they run (SQLite's way to rebuild a table that
/// others refer to), and checked before they are on again.
fn migrate_with(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<Option<PathBuf>, rusqlite::Error> {
    let applied: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if applied >= migrations.len() {
        return Ok(None);
    }
    // A new catalog has nothing to lose.
    let backup = match applied {
        0 => None,
        _ => {
            let to = backup_path(path, applied);
            conn.backup(rusqlite::DatabaseName::Main, &to, None)?;
            tracing::warn!(
                from = applied,
                to = migrations.len(),
                backup = %to.display(),
                "upgrading the catalog; a copy of it as it was is at {}",
                to.display()
            );
            Some(to)
        }
    };
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = (|| {
        let tx = conn.transaction()?;
        for (i, sql) in migrations.iter().enumerate().skip(applied) {
            let failed = |e: rusqlite::Error| migration_failed(i + 1, e, backup.as_deref());
            tx.execute_batch(sql).map_err(failed)?;
            let broken: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM pragma_foreign_key_check)", [], |r| {
                r.get(0)
            })?;
            if broken {
                return Err(failed(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some("it breaks a foreign key".into()),
                )));
            }
        }
        tx.pragma_update(None, "user_version", migrations.len())?;
        tx.commit()?;
        tracing::info!(from = applied, to = migrations.len(), "applied catalog migrations");
        Ok(())
    })();
    conn.pragma_update(None, "foreign_keys", true)?;
    result.map(|()| backup)
}

/// `catalog.db` at version 7 → `catalog.db.v7-20261202T190512Z.bak`, beside it.
fn backup_path(catalog: &Path, version: usize) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let mut name = catalog.file_name().unwrap_or_default().to_owned();
    name.push(format!(".v{version}-{stamp}.bak"));
    catalog.with_file_name(name)
}

/// The error of migration `number`, saying that nothing changed and where the
/// copy taken before it is.
fn migration_failed(number: usize, e: rusqlite::Error, backup: Option<&Path>) -> rusqlite::Error {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => f.extended_code,
        _ => rusqlite::ffi::SQLITE_ERROR,
    };
    let copy = backup.map_or(String::new(), |b| {
        format!("; a copy taken before is at {}", b.display())
    });
    let message = format!("catalog migration {number} failed ({e}); the catalog was left as it was{copy}");
    tracing::error!("{message}");
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message))
}

/// Timestamps are stored as microseconds since the epoch.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// "Now", truncated to what the catalog stores, so that what a write returns
/// equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    from_micros(to_micros(Utc::now()))
}

/// Whether `e` is a violation of a UNIQUE or PRIMARY KEY constraint.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

#[cfg(test)]
mod upgrade_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrates_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let c = Catalog::open(&path).unwrap();
        c.ping().await.unwrap();
        drop(c);
        let c = Catalog::open(&path).unwrap();
        let v: i64 = c
            .read(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let mode: String = c
            .read(|c| c.pragma_query_value(None, "journal_mode", |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn leaves_checkpoints_to_litestream_when_told() {
        // Frames in the write-ahead log after 1500 small commits.
        async fn frames_after_commits(options: CatalogOptions) -> u64 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("catalog.db");
            let c = Catalog::open_with(&path, options).unwrap();
            let set: i64 = c
                .write(|tx| tx.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)))
                .await
                .unwrap();
            assert_eq!(set, i64::from(options.wal_autocheckpoint));
            for i in 0..1500 {
                c.write(move |tx| {
                    tx.execute(
                        "INSERT INTO stations (id, name, province, kind, created_at)
                         VALUES (?1, 'n', 'p', 'provincial', 0)",
                        [format!("s-{i}")],
                    )
                })
                .await
                .unwrap();
            }
            let page: u64 = c
                .read(|c| c.pragma_query_value(None, "page_size", |r| r.get(0)))
                .await
                .unwrap();
            std::fs::metadata(path.with_extension("db-wal")).unwrap().len() / (page + 24)
        }
        // By default the log is moved into the database and started over…
        assert!(frames_after_commits(CatalogOptions::default()).await < 1100);
        // …with 0 nothing does (Litestream would), and it only grows.
        assert!(frames_after_commits(CatalogOptions { wal_autocheckpoint: 0 }).await >= 1500);
    }

    #[tokio::test]
    async fn fts5_folds_like_the_hub() {
        // The index is fed folded text; check FTS5 itself is there and
        // prefix queries work on it.
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(&dir.path().join("c.db")).unwrap();
        let n: i64 = c
            .write(|tx| {
                tx.execute(
                    "INSERT INTO program_fts (rowid, title, summary, description, tags, series, credits)
                     VALUES (1, ?1, '', '', '', '', '')",
                    [crate::domain::text::fold("Phóng sự Đường lên Mẫu Sơn")],
                )?;
                tx.query_row(
                    "SELECT count(*) FROM program_fts WHERE program_fts MATCH '\"phong\"* AND \"duong\"'",
                    [],
                    |r| r.get(0),
                )
            })
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
