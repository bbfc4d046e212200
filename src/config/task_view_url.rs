//! `CAMCOPS_TASK_VIEW_URL` (new, optional): the address of a CamCOPS server whose task pages
//! the task list links to, validated as an http(s) URL, and the link to one task
//! (`task?table_name=…&server_pk=…&viewtype=html`, the original's route, under that address).

use url::Url;

use super::values::{SectionReader, Shown};
use super::ConfigError;

/// The config key.
pub const KEY: &str = "CAMCOPS_TASK_VIEW_URL";

/// What the key accepts, for the error message.
const EXPECTED: &str = "the http:// or https:// address of the CamCOPS server (e.g. \
    https://camcops.example.org/), without user name, password, ? or #";

/// The base address of a CamCOPS server; always ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskViewUrl(String);

impl TaskViewUrl {
    /// Validates `raw` (an absolute http or https URL with a host, no credentials, query or
    /// fragment); the error says what is accepted.
    pub fn parse(raw: &str) -> Result<TaskViewUrl, String> {
        let url = Url::parse(raw.trim()).map_err(|_| EXPECTED.to_owned())?;
        let acceptable = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none();
        if !acceptable {
            return Err(EXPECTED.to_owned());
        }
        let mut base = url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(TaskViewUrl(base))
    }

    /// The base address, ending with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The CamCOPS page of one task, its parameters URL-encoded (the page HTML-escapes it).
    pub fn task_link(&self, table_name: &str, server_pk: i32) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("table_name", table_name)
            .append_pair("server_pk", &server_pk.to_string())
            .append_pair("viewtype", "html")
            .finish();
        format!("{}task?{query}", self.0)
    }
}

/// Reads the key from `[site]`: `None` when absent or blank.
pub(super) fn read(site: &SectionReader<'_>) -> Result<Option<TaskViewUrl>, ConfigError> {
    let Some(raw) = site.text(KEY, Shown::Plain)? else {
        return Ok(None);
    };
    TaskViewUrl::parse(&raw)
        .map(Some)
        .map_err(|expected| site.bad(KEY, &raw, Shown::Plain, expected))
}

#[cfg(test)]
mod tests {
    use super::TaskViewUrl;

    #[test]
    fn accepts_http_and_https_addresses_and_links_under_them() {
        let u = TaskViewUrl::parse("https://camcops.example.org/camcops").unwrap();
        assert_eq!(u.as_str(), "https://camcops.example.org/camcops/");
        assert_eq!(
            u.task_link("phq9", 12),
            "https://camcops.example.org/camcops/task?table_name=phq9&server_pk=12&viewtype=html"
        );
        let root = TaskViewUrl::parse(" http://127.0.0.1:8088/ ").unwrap();
        assert_eq!(
            root.task_link("a b&c=\"<x>", -1),
            "http://127.0.0.1:8088/task?table_name=a+b%26c%3D%22%3Cx%3E&server_pk=-1&viewtype=html"
        );
        assert!(TaskViewUrl::parse("https://[::1]:8443/cc/").is_ok());
    }

    #[test]
    fn refuses_anything_but_a_plain_http_address() {
        for bad in [
            "",
            "camcops.example.org",
            "/camcops",
            "ftp://example.org/",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://user:pw@example.org/",
            "https://example.org/?x=1",
            "https://example.org/#top",
            "https://",
            "http://exa mple.org/",
        ] {
            assert!(TaskViewUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    // Through the config loader: absent = None, a bad value names key and section.
    #[test]
    fn the_key_is_read_from_site_and_checked() {
        use crate::config::{ConfigError, Settings};
        let file = |line: &str| {
            format!(
                "[site]\nDB_URL = x.sqlite\nSESSION_COOKIE_SECRET = {}\n{line}\n",
                "s".repeat(40)
            )
        };
        let s = Settings::from_ini_str(&file(""), "t").unwrap();
        assert_eq!(s.camcops_task_view_url, None);
        let s = Settings::from_ini_str(&file("camcops_task_view_url ="), "t").unwrap();
        assert_eq!(s.camcops_task_view_url, None);
        let s = Settings::from_ini_str(&file("CAMCOPS_TASK_VIEW_URL = https://cc.example/"), "t")
            .unwrap();
        assert_eq!(
            s.camcops_task_view_url.map(|u| u.as_str().to_owned()),
            Some("https://cc.example/".to_owned())
        );
        let err =
            Settings::from_ini_str(&file("CAMCOPS_TASK_VIEW_URL = cc.example"), "t").unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::BadValue {
                    key: "CAMCOPS_TASK_VIEW_URL",
                    section: "site",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("http:// or https://"), "{err}");
    }
}
