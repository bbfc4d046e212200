//! Database URLs: which backend a `DB_URL` names, and translation of SQLAlchemy-style URLs.

use std::fmt;

/// A database backend this program knows of (compiled in or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (feature `sqlite`).
    Sqlite,
    /// PostgreSQL (feature `postgres`).
    Postgres,
    /// MySQL or MariaDB (feature `mysql`).
    Mysql,
}

impl Backend {
    /// The cargo feature that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// Whether this binary was built with the backend.
    pub fn compiled_in(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::Mysql => cfg!(feature = "mysql"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MySQL/MariaDB",
        })
    }
}

/// A parsed `DB_URL`: the backend and the URL in the form the diesel driver takes.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    /// Which backend.
    pub backend: Backend,
    /// What to hand the driver (a file path for SQLite).
    pub url: String,
    /// Set when the URL was rewritten from an SQLAlchemy form; says what was done.
    pub notice: Option<String>,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a password.
        f.debug_struct("DbUrl")
            .field("backend", &self.backend)
            .field("url", &redact(&self.url))
            .finish()
    }
}

/// The URL with any password replaced by `***`, for logs and messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

impl DbUrl {
    /// Parses a diesel or SQLAlchemy URL, or a bare SQLite file path.
    pub fn parse(raw: &str) -> Result<DbUrl, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("the database URL is empty".into());
        }
        let Some(scheme_end) = raw.find("://") else {
            if raw.contains(':') && !raw.starts_with("file:") && !raw.contains('/') {
                return Err(format!(
                    "'{}' is neither a file path nor a URL with a known scheme \
                     (sqlite://, postgres://, postgresql://, mysql://, mariadb://)",
                    redact(raw)
                ));
            }
            return Self::checked(Backend::Sqlite, raw.to_string(), None);
        };
        let scheme = raw[..scheme_end].to_ascii_lowercase();
        let rest = &raw[scheme_end + 3..];
        let (dialect, driver) = match scheme.split_once('+') {
            Some((d, drv)) => (d.to_string(), Some(drv.to_string())),
            None => (scheme.clone(), None),
        };
        let backend = match dialect.as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            other => {
                return Err(format!(
                "unknown database URL scheme '{other}://'; use sqlite://, postgres:// or mysql://"
            ))
            }
        };
        let mut notice = driver.as_ref().map(|d| {
            format!("DB_URL: SQLAlchemy driver '+{d}' ignored; using diesel's {backend} driver")
        });
        let url = match backend {
            Backend::Sqlite => {
                if rest.is_empty() {
                    return Err("sqlite:// URL has no file path".into());
                }
                rest.to_string()
            }
            Backend::Postgres => format!("postgres://{rest}"),
            Backend::Mysql => {
                let (base, query) = match rest.split_once('?') {
                    Some((b, q)) => (b, Some(q)),
                    None => (rest, None),
                };
                let kept: Vec<&str> = query
                    .map(|q| {
                        q.split('&')
                            .filter(|kv| {
                                let key = kv.split('=').next().unwrap_or("");
                                !key.eq_ignore_ascii_case("charset")
                                    && !key.eq_ignore_ascii_case("use_unicode")
                                    && !kv.is_empty()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if query.is_some_and(|q| q.to_ascii_lowercase().contains("charset")) {
                    let extra =
                        "the 'charset' parameter is ignored (connections always use utf8mb4)";
                    notice = Some(match notice {
                        Some(n) => format!("{n}; {extra}"),
                        None => format!("DB_URL: {extra}"),
                    });
                }
                if kept.is_empty() {
                    format!("mysql://{base}")
                } else {
                    format!("mysql://{base}?{}", kept.join("&"))
                }
            }
        };
        Self::checked(backend, url, notice)
    }

    /// This URL with a connect timeout for the driver, unless it names one: on PostgreSQL
    /// libpq's `connect_timeout` (whole seconds, at least 2, as libpq counts). A server that
    /// accepts TCP connections but does not answer (frozen) then fails the attempt instead of
    /// holding it forever. MariaDB/MySQL URLs take no such parameter in diesel; SQLite needs none.
    pub fn with_connect_timeout(&self, timeout: std::time::Duration) -> DbUrl {
        let mut out = self.clone();
        if self.backend == Backend::Postgres && !self.url.contains("connect_timeout=") {
            let secs = timeout.as_secs().max(2);
            let sep = if self.url.contains('?') { '&' } else { '?' };
            out.url = format!("{}{sep}connect_timeout={secs}", self.url);
        }
        out
    }

    fn checked(backend: Backend, url: String, notice: Option<String>) -> Result<DbUrl, String> {
        if !backend.compiled_in() {
            return Err(format!(
                "this camcops-web was built without {backend} support; rebuild with \
                 `cargo build --release --features {}`",
                backend.feature()
            ));
        }
        Ok(DbUrl {
            backend,
            url,
            notice,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_path_and_sqlite_scheme_are_sqlite() {
        let u = DbUrl::parse("camcops.sqlite").unwrap();
        assert_eq!(u.backend, Backend::Sqlite);
        assert_eq!(u.url, "camcops.sqlite");
        let u = DbUrl::parse("sqlite:///tmp/x.db").unwrap();
        assert_eq!(u.url, "/tmp/x.db");
    }

    #[test]
    fn unknown_scheme_is_an_error_naming_it() {
        let e = DbUrl::parse("oracle://u:p@h/db").unwrap_err();
        assert!(e.contains("oracle"), "{e}");
        assert!(DbUrl::parse("").is_err());
    }

    #[test]
    fn postgres_urls_get_a_connect_timeout_unless_they_have_one() {
        let secs = std::time::Duration::from_secs(3);
        let u = DbUrl {
            backend: Backend::Postgres,
            url: "postgres://u@h/db".into(),
            notice: None,
        };
        assert_eq!(
            u.with_connect_timeout(secs).url,
            "postgres://u@h/db?connect_timeout=3"
        );
        let u = DbUrl {
            url: "postgres://u@h/db?sslmode=disable&connect_timeout=9".into(),
            ..u
        };
        assert_eq!(u.with_connect_timeout(secs).url, u.url);
        let u = DbUrl {
            backend: Backend::Mysql,
            url: "mysql://u@h/db".into(),
            notice: None,
        };
        assert_eq!(u.with_connect_timeout(secs).url, u.url);
    }

    #[test]
    fn redact_hides_password() {
        assert_eq!(
            redact("mysql://u:secret@h:3306/db"),
            "mysql://u:***@h:3306/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn sqlalchemy_mysql_url_is_translated_or_refused_clearly() {
        let r = DbUrl::parse("mysql+pymysql://u:p@host:3306/camcops?charset=utf8");
        if cfg!(feature = "mysql") {
            let u = r.unwrap();
            assert_eq!(u.url, "mysql://u:p@host:3306/camcops");
            assert!(u.notice.unwrap().contains("pymysql"));
        } else {
            assert!(r.unwrap_err().contains("--features mysql"));
        }
    }
}
