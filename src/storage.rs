//! Content-addressed blob store for raw mail and attachments.
//!
//! Two places, one address (the SHA-256 of the content):
//! - **in the database** (table `blob_data`), for blobs up to
//!   `mail.inline_blob_max_bytes`: written by the pipeline in the same
//!   transaction as the receipt or message that refers to them
//!   ([`BlobStore::insert_inline`]), so they are exactly as durable as that
//!   row, and cost one row instead of a file (an inode, a rename and a
//!   directory entry) per message;
//! - **as files** under `<data_dir>/blobs/ab/cd/<sha256>`, for larger blobs
//!   and for uploads: written to a temporary file, flushed to disk and
//!   renamed into place, so a crash never leaves a partial blob under its
//!   final name.
//!
//! Storing the same bytes twice is a no-op in both. [`BlobStore::load`]
//! reads either; [`BlobStore::get`] reads files only.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::AnyConnection;
use crate::db::schema::blob_data;
use crate::error::{AppError, AppResult};

/// A stored blob's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
    /// Fan-out directories known to exist (saves a mkdir per blob).
    made_dirs: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
    /// Blobs up to this size go to the database (`blob_data`).
    inline_max: usize,
}

/// The default of `mail.inline_blob_max_bytes`.
pub const DEFAULT_INLINE_MAX_BYTES: usize = 256 * 1024;

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl BlobStore {
    /// A store rooted at `<data_dir>/blobs` (created when missing).
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("blobs");
        fs::create_dir_all(root.join("tmp"))?;
        Ok(Self { root, made_dirs: Default::default(), inline_max: DEFAULT_INLINE_MAX_BYTES })
    }

    /// The same store keeping blobs up to `bytes` in the database (0: none).
    pub fn with_inline_max(mut self, bytes: usize) -> Self {
        self.inline_max = bytes;
        self
    }

    /// Whether a blob of `size` bytes is kept in the database.
    pub fn is_inline(&self, size: usize) -> bool {
        size <= self.inline_max
    }

    /// Stores a blob in the database (no-op when present); call it in the
    /// transaction that writes the row referring to it.
    pub fn insert_inline(conn: &mut AnyConnection, sha256: &str, bytes: &[u8]) -> AppResult<()> {
        let values = (
            blob_data::sha256.eq(sha256),
            blob_data::size_bytes.eq(i64::try_from(bytes.len()).unwrap_or(i64::MAX)),
            blob_data::data.eq(bytes),
        );
        // ON CONFLICT exists only on the concrete backends.
        crate::on_backend!(conn, |c| diesel::insert_into(blob_data::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(())
    }

    /// Reads a blob from the database or, when not there, from its file,
    /// checking that its content still matches its hash.
    pub fn load(&self, conn: &mut AnyConnection, sha256: &str) -> AppResult<Vec<u8>> {
        if !is_sha256_hex(sha256) {
            return Err(AppError::internal(anyhow::anyhow!("blob address {sha256:?} is not a sha256 hash")));
        }
        let row: Option<Vec<u8>> = blob_data::table.find(sha256).select(blob_data::data).first(conn).optional()?;
        match row {
            Some(bytes) if sha256_hex(&bytes) == sha256 => Ok(bytes),
            Some(_) => Err(AppError::internal(anyhow::anyhow!("blob {sha256} is corrupt"))),
            None => self.get(sha256).map_err(|e| AppError::internal(anyhow::anyhow!("reading blob {sha256}: {e}"))),
        }
    }

    /// Whether a blob is stored, in the database or as a file.
    pub fn exists(&self, conn: &mut AnyConnection, sha256: &str) -> AppResult<bool> {
        let inline: i64 = blob_data::table.filter(blob_data::sha256.eq(sha256)).count().get_result(conn)?;
        Ok(inline > 0 || self.contains(sha256))
    }

    /// Where the blob with this hash lives; `None` for a malformed hash (so
    /// that no caller can build a path from untrusted text).
    pub fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.root.join(&sha256[0..2]).join(&sha256[2..4]).join(sha256))
    }

    /// Stores `bytes` durably (flushed to disk before returning) and returns
    /// their address.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobRef> {
        self.put_with(bytes, true)
    }

    /// Stores `bytes`; with `sync` false the data reaches the disk only at
    /// the next [`BlobStore::sync_filesystem`] (batch imports call it once
    /// before committing a batch).
    pub fn put_with(&self, bytes: &[u8], sync: bool) -> io::Result<BlobRef> {
        let sha256 = sha256_hex(bytes);
        let size = bytes.len() as u64;
        let final_path = self.path_of(&sha256).ok_or_else(|| io::Error::other("computed hash is not hex"))?;
        if final_path.exists() {
            return Ok(BlobRef { sha256, size });
        }
        let dir = final_path.parent().ok_or_else(|| io::Error::other("blob path has no parent"))?;
        let known = self.made_dirs.lock().map(|d| d.contains(dir)).unwrap_or(false);
        if !known {
            fs::create_dir_all(dir)?;
            if let Ok(mut d) = self.made_dirs.lock() {
                d.insert(dir.to_path_buf());
            }
        }
        let tmp = self.root.join("tmp").join(format!("{sha256}.{}.{:x}", std::process::id(), rand::random::<u64>()));
        let result = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(bytes)?;
            if sync {
                file.sync_all()?;
            }
            fs::rename(&tmp, &final_path)?;
            if sync {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| BlobRef { sha256, size })
    }

    /// Flushes everything written to the blob store's filesystem (one
    /// `syncfs(2)`), making earlier unsynced writes durable.
    pub fn sync_filesystem(&self) -> io::Result<()> {
        let dir = File::open(&self.root)?;
        nix::unistd::syncfs(&dir).map_err(io::Error::from)
    }

    /// Reads a blob, checking that its content still matches its hash.
    pub fn get(&self, sha256: &str) -> io::Result<Vec<u8>> {
        let path =
            self.path_of(sha256).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 hash"))?;
        let bytes = fs::read(path)?;
        if sha256_hex(&bytes) != sha256 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("blob {sha256} is corrupt")));
        }
        Ok(bytes)
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.path_of(sha256).is_some_and(|p| p.exists())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_dedupe() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let a = store.put(b"hello").unwrap();
        assert_eq!(a.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(store.put(b"hello").unwrap(), a);
        assert_eq!(store.get(&a.sha256).unwrap(), b"hello");
        assert!(store.contains(&a.sha256));
        assert!(store.path_of("../../etc/passwd").is_none());
        assert!(store.get("../x").is_err());
        assert_eq!(fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(), 0);
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let a = store.put(b"original").unwrap();
        fs::write(store.path_of(&a.sha256).unwrap(), b"tampered").unwrap();
        assert_eq!(store.get(&a.sha256).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
