//! Where records become durable: finished objects go to a folder or an S3-compatible
//! bucket through `object_store`, create-only where the store supports it.
//!
//! This module makes single attempts; retrying with backoff is the caller's decision,
//! since only the caller knows when to give up (shutdown, lost partition).

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::config::OutputConfig;

/// A store failure, naming the root or object it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open output root {root}: {reason}")]
    Open { root: String, reason: String },
    #[error("object {path} already exists with different content; refusing to overwrite it")]
    Conflict { path: String },
    #[error("cannot write object {path}: {source}")]
    Put {
        path: String,
        source: object_store::Error,
    },
    #[error("cannot read object {path}: {source}")]
    Get {
        path: String,
        source: object_store::Error,
    },
    #[error("cannot delete object {path}: {source}")]
    Delete {
        path: String,
        source: object_store::Error,
    },
    #[error("cannot list objects under {prefix}: {source}")]
    List {
        prefix: String,
        source: object_store::Error,
    },
}

impl StoreError {
    /// Whether trying again may succeed; a conflict never resolves by itself.
    pub fn is_transient(&self) -> bool {
        !matches!(self, StoreError::Conflict { .. } | StoreError::Open { .. })
    }

    /// The metrics label of the failed operation.
    pub fn operation(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "open",
            StoreError::Conflict { .. } => "conflict",
            StoreError::Put { .. } => "put",
            StoreError::Get { .. } => "get",
            StoreError::Delete { .. } => "delete",
            StoreError::List { .. } => "list",
        }
    }
}

/// How a write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The object did not exist (or create-only is off) and now holds the bytes.
    Stored,
    /// An identical object was already there: a replay of a segment written before.
    AlreadyIdentical,
}

/// An object below the root, as a listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The name below the root, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The output root: a folder or a bucket and prefix.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    create_only: bool,
    root: String,
}

impl Store {
    /// Opens the root named in the configuration: `s3://bucket/prefix` or a folder, which
    /// is created if missing. Folder writes go to a temporary file renamed into place.
    pub fn open(config: &OutputConfig) -> Result<Store, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            root: config.root.clone(),
            reason,
        };
        let inner: Arc<dyn ObjectStore> = match config.root.strip_prefix("s3://") {
            Some(location) => {
                let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
                if bucket.is_empty() {
                    return Err(open_error("no bucket name after s3://".into()));
                }
                let s3 = &config.s3;
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_allow_http(s3.allow_http)
                    .with_virtual_hosted_style_request(false);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                if let Some(key) = &s3.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                let bucket_store = builder.build().map_err(|err| open_error(err.to_string()))?;
                prefixed(bucket_store, prefix)
            }
            None => {
                std::fs::create_dir_all(&config.root).map_err(|err| open_error(err.to_string()))?;
                let folder = LocalFileSystem::new_with_prefix(&config.root)
                    .map_err(|err| open_error(err.to_string()))?;
                Arc::new(folder)
            }
        };
        Ok(Store {
            inner,
            create_only: config.create_only,
            root: config.root.clone(),
        })
    }

    /// The root as configured, for logs.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Writes a finished object. With create-only on, an existing object with the same
    /// bytes is success and one with different bytes is [`StoreError::Conflict`].
    pub async fn put_object(&self, path: &str, bytes: Bytes) -> Result<Written, StoreError> {
        let location = Path::from(path);
        let mode = if self.create_only {
            PutMode::Create
        } else {
            PutMode::Overwrite
        };
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self
            .inner
            .put_opts(&location, PutPayload::from(bytes.clone()), options)
            .await
        {
            Ok(_) => Ok(Written::Stored),
            Err(object_store::Error::AlreadyExists { .. }) => {
                match self.get(path).await? {
                    Some(existing) if same_content(&existing, &bytes) => {
                        Ok(Written::AlreadyIdentical)
                    }
                    // Vanished between the two calls: only a concurrent writer can do that.
                    _ => Err(StoreError::Conflict {
                        path: path.to_string(),
                    }),
                }
            }
            Err(source) => Err(StoreError::Put {
                path: path.to_string(),
                source,
            }),
        }
    }

    /// Reads an object, `None` if it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<Bytes>, StoreError> {
        let get_error = |source| StoreError::Get {
            path: path.to_string(),
            source,
        };
        match self.inner.get(&Path::from(path)).await {
            Ok(result) => result.bytes().await.map(Some).map_err(get_error),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(get_error(source)),
        }
    }

    /// Deletes an object; a missing object is not an error.
    pub async fn delete(&self, path: &str) -> Result<(), StoreError> {
        match self.inner.delete(&Path::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StoreError::Delete {
                path: path.to_string(),
                source,
            }),
        }
    }

    /// Names of all objects under `prefix` (a folder-like path without trailing slash).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let location = (!prefix.is_empty()).then(|| Path::from(prefix));
        self.inner
            .list(location.as_ref())
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(|source| StoreError::List {
                prefix: prefix.to_string(),
                source,
            })
    }

    /// Objects under `prefix` (a folder-like path without trailing slash) with their sizes.
    /// Listing one prefix at a time (a day of the Zeek tree) keeps a caller from walking
    /// the whole bucket.
    pub async fn list_entries(&self, prefix: &str) -> Result<Vec<ObjectEntry>, StoreError> {
        let location = (!prefix.is_empty()).then(|| Path::from(prefix));
        self.inner
            .list(location.as_ref())
            .map_ok(|meta| ObjectEntry {
                path: meta.location.to_string(),
                size: meta.size,
            })
            .try_collect()
            .await
            .map_err(|source| StoreError::List {
                prefix: prefix.to_string(),
                source,
            })
    }

    /// Reads an object as a stream of chunks, so that a large object never has to fit in
    /// memory. A missing object is a [`StoreError::Get`] naming it.
    pub async fn get_stream(
        &self,
        path: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let result = self
            .inner
            .get(&Path::from(path))
            .await
            .map_err(|source| StoreError::Get {
                path: path.to_string(),
                source,
            })?;
        let path = path.to_string();
        Ok(result
            .into_stream()
            .map_err(move |source| StoreError::Get {
                path: path.clone(),
                source,
            })
            .boxed())
    }

    /// A cheap round trip that tells whether the store answers, for readiness.
    pub async fn check(&self) -> Result<(), StoreError> {
        self.get(PROBE_OBJECT).await.map(|_| ())
    }
}

/// Whether an existing object holds what a replay would write: the same bytes, or, since
/// another build of the compressor may cut the same text differently (a rolling upgrade
/// replaying a segment), the same text once decompressed.
fn same_content(existing: &[u8], new: &[u8]) -> bool {
    use std::io::Read;
    if existing == new {
        return true;
    }
    let text = |gzip: &[u8]| {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(gzip)
            .read_to_end(&mut text)
            .map(|_| text)
    };
    matches!((text(existing), text(new)), (Ok(a), Ok(b)) if a == b)
}

/// An object name that is never written; reading it proves the store answers.
const PROBE_OBJECT: &str = "_espy/readiness-probe";

fn prefixed(store: impl ObjectStore, prefix: &str) -> Arc<dyn ObjectStore> {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(text: &[u8], level: u32) -> Bytes {
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(text).expect("compress");
        Bytes::from(encoder.finish().expect("finish"))
    }

    fn folder_store(root: &std::path::Path) -> Store {
        Store::open(&OutputConfig {
            root: root.to_string_lossy().into_owned(),
            ..OutputConfig::default()
        })
        .expect("open folder store")
    }

    #[tokio::test]
    async fn a_replayed_object_is_accepted_and_a_different_one_is_a_conflict() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = folder_store(dir.path());
        let path = "2019-12-05/conn.04:00:00-05:00:00-t.p0000.o000000000000.log.gz";
        let rows = b"#separator \\x09\n1575518400.000000\tC0\n".repeat(50);

        let first = store.put_object(path, gzip(&rows, 6)).await.expect("first");
        let same = store.put_object(path, gzip(&rows, 6)).await.expect("same");
        // Another compressor build: other bytes, same text.
        let recompressed = store
            .put_object(path, gzip(&rows, 1))
            .await
            .expect("same text");
        let other = store.put_object(path, gzip(b"other rows\n", 6)).await;

        assert_eq!(first, Written::Stored);
        assert_eq!(same, Written::AlreadyIdentical);
        assert_eq!(recompressed, Written::AlreadyIdentical);
        assert!(
            matches!(other, Err(StoreError::Conflict { .. })),
            "{other:?}"
        );
    }
}
