//! A local object being written: a staging file beside its final name,
//! whole aligned parts written by direct I/O (no copy into the page cache),
//! the rest with its writeback started behind the stream, then fsync and a
//! rename. Nothing here knows of S3, hashing or parts' order: the object
//! writer (`writer.rs`) drives it.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use super::{blocking, MediaError, PartTask};

/// Alignment of part buffers: what direct I/O asks of memory, offsets and
/// lengths (the device's logical block size: 512 bytes or 4 KiB).
pub(super) const ALIGN: usize = 4096;

/// Without direct I/O (a file system that refuses it, or the short last
/// part), bytes a local upload may have written but not yet on disk: each part's
/// writeback starts as soon as it is written, and a part waits for the one
/// this far behind it. The disk then works while the network delivers
/// instead of after it (the final fsync finds little left to flush), and a
/// disk slower than the link slows the client down rather than filling the
/// page cache.
pub(super) const LOCAL_WRITEBACK_LAG: u64 = 32 * 1024 * 1024;

/// What a local object's name carries while it is being written.
pub(super) const STAGING_SUFFIX: &str = "#1";

/// Whether `name` is a staging file's (one the sweeper may remove once old).
pub(super) fn is_staging(name: &str) -> bool {
    name.contains('#')
}

/// A local object being written: `<key>#1` until it is complete and flushed,
/// then renamed to `<key>`.
pub(super) struct LocalFile {
    file: Arc<std::fs::File>,
    /// The same file opened for direct I/O (`O_DIRECT`), where the file
    /// system allows it: whole aligned parts go from the part's buffer to the
    /// disk, with no copy into the page cache.
    pub(super) direct: Option<Arc<std::fs::File>>,
    pub(super) staging: PathBuf,
    dest: PathBuf,
    /// Where the next part goes.
    offset: u64,
}

impl LocalFile {
    pub(super) async fn create(dest: PathBuf) -> Result<Self, MediaError> {
        blocking(move || {
            let dir = dest.parent().expect("an object's path has a folder");
            std::fs::create_dir_all(dir)?;
            let mut name = dest.file_name().expect("an object's path has a name").to_owned();
            name.push(STAGING_SUFFIX);
            let staging = dir.join(name);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&staging)?;
            Ok(Self {
                file: Arc::new(file),
                direct: open_direct(&staging).map(Arc::new),
                staging,
                dest,
                offset: 0,
            })
        })
        .await
    }

    /// Writes `part` after the parts sent before it (at its own offset, so
    /// several may be written at once), on a blocking thread.
    pub(super) fn put_part(&mut self, part: Bytes) -> PartTask {
        let offset = self.offset;
        self.offset += part.len() as u64;
        let whole = |n: usize| n.is_multiple_of(ALIGN);
        let direct = self
            .direct
            .clone()
            .filter(|_| whole(offset as usize) && whole(part.len()) && whole(part.as_ptr() as usize));
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            match direct.map(|direct| direct.write_all_at(&part, offset)) {
                Some(Ok(())) => {}
                // A device whose blocks are larger than [`ALIGN`] refuses
                // the direct write: the part goes through the page cache.
                Some(Err(e)) if e.raw_os_error() != Some(libc::EINVAL) => return Err(e.into()),
                _ => {
                    file.write_all_at(&part, offset)?;
                    // Advisory: the final fsync is what makes the object
                    // durable, and reports any write error; a file system
                    // without sync_file_range just flushes it all then.
                    let _ = write_behind(&file, offset, part.len() as u64);
                }
            }
            Ok(None)
        })
    }

    /// Flushes the file, renames it to its key and flushes the folder.
    pub(super) async fn complete(self) -> Result<(), MediaError> {
        blocking(move || {
            self.file.sync_all()?;
            std::fs::rename(&self.staging, &self.dest)?;
            sync_dir(&self.dest)
        })
        .await
    }

    /// Removes the staging file (a part still being written keeps writing
    /// into a file that no longer has a name, and is dropped with it).
    pub(super) fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.staging) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `path` opened for direct writes, or `None` where the file system refuses.
#[cfg(target_os = "linux")]
fn open_direct(path: &std::path::Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &std::path::Path) -> Option<std::fs::File> {
    None
}

/// Starts the writeback of the part just written at `offset`, and waits for
/// the part written [`LOCAL_WRITEBACK_LAG`] bytes before it.
#[cfg(target_os = "linux")]
fn write_behind(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let range = |offset: u64, flags| {
        // SAFETY: a plain system call on a file descriptor `file` owns.
        let r = unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, len as i64, flags) };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    range(offset, libc::SYNC_FILE_RANGE_WRITE)?;
    if let Some(behind) = offset.checked_sub(LOCAL_WRITEBACK_LAG) {
        range(
            behind,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER,
        )?;
    }
    Ok(())
}

/// Elsewhere the final fsync flushes everything.
#[cfg(not(target_os = "linux"))]
fn write_behind(_file: &std::fs::File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Ok(())
}

/// The data, then the directory entry that names it.
pub(super) async fn sync_file_and_dir(path: PathBuf) -> Result<(), MediaError> {
    blocking(move || {
        std::fs::File::open(&path)?.sync_all()?;
        sync_dir(&path)
    })
    .await
}

/// The folder of `path`, so that a file created or renamed there stays.
fn sync_dir(path: &std::path::Path) -> Result<(), MediaError> {
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
