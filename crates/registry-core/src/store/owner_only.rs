//! Files and directories only the registry's own user may read.
//!
//! The data directory holds the catalog, key hashes and private orgs' bundles, so
//! nothing in it is created readable by other local users, whatever the umask.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of every directory the registry creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the registry creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and its missing parents, each `0700`.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// Creates `path` as [`create_dir_all`] does, and closes it to others if it existed
/// already with a looser mode (a data directory from an earlier release).
pub fn create_private_root(path: &Path) -> io::Result<()> {
    create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))?;
        }
    }
    Ok(())
}

/// Options that create a new file `0600`: add `write`, `create_new` and the rest.
pub fn file_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Writes `bytes` to a new or truncated file at `path`, `0600` when created.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_paths_are_closed_to_others_and_a_loose_root_is_tightened() {
        let temp = tempfile::tempdir().unwrap();
        let nested = temp.path().join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&temp.path().join("a")), DIR_MODE);
        assert_eq!(mode(&nested), DIR_MODE);
        write(&nested.join("f"), b"x").unwrap();
        assert_eq!(mode(&nested.join("f")), FILE_MODE);

        let loose = temp.path().join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_root(&loose).unwrap();
        assert_eq!(mode(&loose), DIR_MODE);
    }
}
