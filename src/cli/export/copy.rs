//! Copying one object into the local Zeek tree so that RITA, which never re-reads a path
//! it has imported, only ever sees complete files: the bytes go to a hidden temporary file
//! in the destination folder, are synced, and are renamed into place.
//!
//! A file already there with the object's size is taken as the object and left alone;
//! one with another size (a partial copy by some other tool) is replaced.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::TryStreamExt;
use tokio::io::AsyncWriteExt;

use crate::store::{ObjectEntry, Store, StoreError};

/// A copy that failed, naming the object or file.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("object {path} changed while it was copied: listed with {listed} bytes, read {read}")]
    Changed {
        path: String,
        listed: u64,
        read: u64,
    },
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// Written where nothing was.
    New,
    /// Written over a file of another size.
    Replaced,
    /// A file of the same size was already there.
    Present,
}

/// Temporary names are hidden and end in `.tmp`, so neither RITA nor a shell glob for
/// `*.log.gz` ever picks one up.
fn temporary_path(folder: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let sequence = NEXT.fetch_add(1, Ordering::Relaxed);
    folder.join(format!(
        ".espy-export-{}-{sequence}.tmp",
        std::process::id()
    ))
}

/// Removes the temporary file unless it was renamed into place, so a failed copy leaves
/// nothing behind.
struct Temporary {
    path: PathBuf,
    keep: bool,
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Copies `entry` from `store` to `destination`, unless a file of its size is there.
pub async fn copy_object(
    store: &Store,
    entry: &ObjectEntry,
    destination: &Path,
) -> Result<Copied, CopyError> {
    let local = |source| CopyError::Local {
        path: destination.to_path_buf(),
        source,
    };
    let outcome = match tokio::fs::metadata(destination).await {
        Ok(meta) if meta.is_file() && meta.len() == entry.size => return Ok(Copied::Present),
        Ok(meta) => {
            tracing::warn!(
                path = %destination.display(),
                size = meta.len(),
                expected = entry.size,
                "replacing a file whose size differs from the object"
            );
            Copied::Replaced
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Copied::New,
        Err(err) => return Err(local(err)),
    };
    let folder = destination.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(folder).await.map_err(local)?;

    let mut temporary = Temporary {
        path: temporary_path(folder),
        keep: false,
    };
    let mut file = tokio::fs::File::create(&temporary.path)
        .await
        .map_err(local)?;
    let mut chunks = store.get_stream(&entry.path).await?;
    let mut read = 0u64;
    while let Some(chunk) = chunks.try_next().await? {
        read += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(local)?;
    }
    if read != entry.size {
        return Err(CopyError::Changed {
            path: entry.path.clone(),
            listed: entry.size,
            read,
        });
    }
    // Synced before the rename, so a crash never leaves a complete name on partial data.
    file.sync_all().await.map_err(local)?;
    drop(file);
    tokio::fs::rename(&temporary.path, destination)
        .await
        .map_err(local)?;
    temporary.keep = true;
    Ok(outcome)
}
