//! A plugin directory zipped on the fly into a bundle: every file under it, by
//! path, with fixed timestamps and modes, so the same tree always gives the same
//! bytes (and the same SHA-256). Hidden entries (`.git`, `.env`, ...) stay out.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a directory could not be bundled.
#[derive(Debug, thiserror::Error)]
pub enum BundleDirError {
    /// Reading the tree failed.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A symbolic link, which a bundle may not hold.
    #[error("{0} is a symbolic link; bundles hold regular files only")]
    Symlink(PathBuf),
    /// A name that is not UTF-8, which ZIP entry names here must be.
    #[error("{0} has a name that is not UTF-8")]
    NonUtf8Name(PathBuf),
    /// Writing the archive failed.
    #[error("writing the bundle: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// The ZIP of every non-hidden file under `dir`, entries named relative to it.
pub fn zip_directory(dir: &Path) -> Result<Vec<u8>, BundleDirError> {
    let mut files = Vec::new();
    collect(dir, "", &mut files)?;
    files.sort();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, path) in files {
        let bytes = std::fs::read(&path).map_err(|source| BundleDirError::Io {
            path: path.clone(),
            source,
        })?;
        writer.start_file(name, options)?;
        writer
            .write_all(&bytes)
            .map_err(|source| BundleDirError::Io { path, source })?;
    }
    Ok(writer.finish()?.into_inner())
}

fn collect(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, PathBuf)>,
) -> Result<(), BundleDirError> {
    let io = |source| BundleDirError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| BundleDirError::NonUtf8Name(path.clone()))?;
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(io)?;
        let entry_name = format!("{prefix}{name}");
        if kind.is_symlink() {
            return Err(BundleDirError::Symlink(path));
        } else if kind.is_dir() {
            collect(&path, &format!("{entry_name}/"), files)?;
        } else {
            files.push((entry_name, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_tree_zips_to_the_same_bytes_without_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("lib/deep")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("plugin.yaml"), "slug: x\n").unwrap();
        std::fs::write(root.join("lib/deep/run.py"), "print(1)\n").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1\n").unwrap();
        std::fs::write(root.join(".git/config"), "x").unwrap();
        let first = zip_directory(root).unwrap();
        assert_eq!(zip_directory(root).unwrap(), first, "reproducible");
        let archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        let mut names: Vec<String> = archive
            .file_names()
            .map(|name| name.unwrap().into_owned())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["lib/deep/run.py", "plugin.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plugin.yaml"), "slug: x\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
        assert!(matches!(
            zip_directory(dir.path()),
            Err(BundleDirError::Symlink(_))
        ));
    }
}
