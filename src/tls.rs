//! The optional TLS listener's configuration (rustls) from `SSL_CERTIFICATE`/`SSL_PRIVATE_KEY`.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;

/// A rustls server configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(cert).with_context(|| format!("SSL_CERTIFICATE {}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("SSL_CERTIFICATE {} is not PEM", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("SSL_CERTIFICATE {} holds no certificate", cert.display());
    }
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(key).with_context(|| format!("SSL_PRIVATE_KEY {}", key.display()))?,
    ))
    .with_context(|| format!("SSL_PRIVATE_KEY {} is not PEM", key.display()))?
    .with_context(|| format!("SSL_PRIVATE_KEY {} holds no private key", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match")?;
    Ok(config)
}
