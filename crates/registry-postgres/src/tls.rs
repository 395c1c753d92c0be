//! TLS to PostgreSQL, as a `DATABASE_URL` asks for it with libpq's parameters:
//! `sslmode` and `sslrootcert`.
//!
//! Every mode that encrypts also verifies the server's certificate and name
//! (`require` included, where libpq would accept any certificate), against
//! `sslrootcert` when given, else the system's roots: an encrypted connection to
//! whoever answers is no protection. `prefer` and `allow` are refused, since they
//! fall back to plain text without a word.

use std::path::PathBuf;
use std::sync::Arc;

use registry_core::store::StorageError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// What a database URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsSetting {
    /// `sslmode=disable`, or no `sslmode`: plain TCP (or a local socket).
    Off,
    /// `sslmode=require`, `verify-ca` or `verify-full`: TLS with the server's
    /// certificate verified against these roots (none: the system's).
    Verified {
        /// `sslrootcert`: a PEM file of the certificate authorities to trust.
        roots: Option<PathBuf>,
    },
}

/// The database URL is not one this registry can connect with.
#[derive(Debug, thiserror::Error)]
pub enum TlsSettingError {
    /// An `sslmode` that could connect unencrypted without saying so, or an unknown one.
    #[error(
        "sslmode={0} is not supported: use sslmode=verify-full (or require, which verifies the server's certificate too), or sslmode=disable for a database reached over a private network or a local socket"
    )]
    Mode(String),
    /// `sslrootcert` names a file that holds no certificate.
    #[error("sslrootcert {path}: {detail}")]
    Roots {
        /// The file.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// TLS could not be set up.
    #[error("setting up TLS: {0}")]
    Setup(String),
}

/// `url` without its `sslmode` and `sslrootcert` (which the driver would not
/// accept as they are), and what they ask for.
pub(crate) fn split_tls_setting(url: &str) -> Result<(String, TlsSetting), TlsSettingError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), TlsSetting::Off));
    };
    let mut mode = None;
    let mut roots = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let decoded = url::form_urlencoded::parse(pair.as_bytes()).next();
        match decoded.as_ref().map(|(k, v)| (k.as_ref(), v)) {
            Some(("sslmode", value)) => mode = Some(value.to_string()),
            Some(("sslrootcert", value)) => roots = Some(PathBuf::from(value.as_ref())),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let setting = match mode.as_deref() {
        None | Some("disable") if roots.is_none() => TlsSetting::Off,
        // A CA named without a mode means the caller wants it used.
        None => TlsSetting::Verified { roots },
        Some("require" | "verify-ca" | "verify-full") => TlsSetting::Verified { roots },
        Some(other) => return Err(TlsSettingError::Mode(other.to_owned())),
    };
    Ok((rest, setting))
}

/// The connector for `roots` (none: the system's certificate store).
pub(crate) fn rustls_connector(
    roots: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StorageError> {
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Some(path) => {
            let shown = path.display().to_string();
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| {
                    setting_error(TlsSettingError::Roots {
                        path: shown.clone(),
                        detail: e.to_string(),
                    })
                })?;
            let (added, _) = store.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(setting_error(TlsSettingError::Roots {
                    path: shown,
                    detail: "no certificate in it".to_owned(),
                }));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| setting_error(TlsSettingError::Setup(e.to_string())))?
    .with_root_certificates(store)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn setting_error(error: TlsSettingError) -> StorageError {
    StorageError::Backend(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_read_and_taken_out_of_the_url() {
        let (rest, setting) = split_tls_setting(
            "postgres://u:p@db:5432/r?sslmode=verify-full&options=-csearch_path%3Dx&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/r?options=-csearch_path%3Dx");
        assert_eq!(
            setting,
            TlsSetting::Verified {
                roots: Some(PathBuf::from("/etc/ca.pem"))
            }
        );
        assert_eq!(
            split_tls_setting("postgres://db/r?sslmode=require").unwrap(),
            (
                "postgres://db/r".to_owned(),
                TlsSetting::Verified { roots: None }
            )
        );
        for plain in ["postgres://db/r", "postgres://db/r?sslmode=disable"] {
            assert_eq!(split_tls_setting(plain).unwrap().1, TlsSetting::Off);
        }
    }

    #[test]
    fn a_mode_that_could_fall_back_to_plain_text_is_refused() {
        for mode in ["prefer", "allow", "bogus"] {
            let refused = split_tls_setting(&format!("postgres://db/r?sslmode={mode}"));
            assert!(
                matches!(refused, Err(TlsSettingError::Mode(ref m)) if m == mode),
                "{mode}"
            );
        }
    }
}
