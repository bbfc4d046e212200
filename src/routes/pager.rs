//! Paging of the lists (tasks, users, audit trail, groups): the query parameters of
//! `/view_tasks` (`rows_per_page`, `page`, `via_index`), the page size of a session, and the
//! pager links, which keep the current parameters (sorted) with `page=N`.

use crate::error::AppError;
use crate::models::task_index::TaskPage;

/// The page sizes offered (and the only ones accepted).
pub const ROWS_PER_PAGE_CHOICES: [i64; 4] = [10, 25, 50, 100];
/// The page size when the session has none (or an unusable one).
pub const DEFAULT_ROWS_PER_PAGE: i64 = 25;
/// How many page numbers either side of the current one the pager shows.
const WINDOW: i64 = 3;

/// The parsed query string of `GET /view_tasks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewParams {
    /// `rows_per_page`, when given (always one of the choices).
    pub rows_per_page: Option<i64>,
    /// `page`, at least 1 (clamped to the last page later).
    pub page: i64,
    /// Every parameter as given, for the pager links.
    pub pairs: Vec<(String, String)>,
}

/// Parses a `rows_per_page` value: one of [`ROWS_PER_PAGE_CHOICES`], else a 400.
pub fn parse_rows_per_page(raw: &str) -> Result<i64, AppError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| ROWS_PER_PAGE_CHOICES.contains(n))
        .ok_or_else(|| {
            AppError::BadRequest(
                "Bad 'rows_per_page' parameter: it must be one of 10, 25, 50 or 100.".into(),
            )
        })
}

/// The last value of `name` among `pairs` (as a web form's repeated key reads).
fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses the query string. `via_index` is accepted and ignored (every query uses the index).
pub fn parse_params(query: &str) -> Result<ViewParams, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| AppError::BadRequest("The address has bad query parameters.".into()))?;
    let rows_per_page = last(&pairs, "rows_per_page")
        .map(parse_rows_per_page)
        .transpose()?;
    let page = match last(&pairs, "page") {
        None => 1,
        Some(raw) => raw.trim().parse::<i64>().map_err(|_| {
            AppError::BadRequest("Bad 'page' parameter: an integer is required.".into())
        })?,
    };
    Ok(ViewParams {
        rows_per_page,
        page: page.max(1),
        pairs,
    })
}

/// The page size of a session: its stored `number_to_view` when usable, else 25.
pub fn session_page_size(stored: Option<i32>) -> i64 {
    stored
        .map(i64::from)
        .filter(|n| (1..=crate::models::task_index::MAX_PER_PAGE).contains(n))
        .unwrap_or(DEFAULT_ROWS_PER_PAGE)
}

/// `path?<params with page=N, sorted by name>`.
pub fn page_href(path: &str, pairs: &[(String, String)], page: i64) -> String {
    let mut v: Vec<(&str, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    v.push(("page", page.to_string()));
    v.sort_by(|a, b| a.0.cmp(b.0));
    let query = serde_urlencoded::to_string(&v).unwrap_or_default();
    format!("{path}?{query}")
}

/// One item of the pager: a link, or the current page (no link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagerItem {
    /// Text shown.
    pub label: String,
    /// Accessible description.
    pub title: String,
    /// Target; `None` for the current page or an unavailable step.
    pub href: Option<String>,
    /// Whether this is the page shown.
    pub current: bool,
}

/// The pager: First, Previous, nearby page numbers, Next, Last (when the total is known), and
/// a summary line. Shown even for a single page, as the original does.
pub fn pager(path: &str, pairs: &[(String, String)], p: &TaskPage) -> (Vec<PagerItem>, String) {
    pager_of(path, pairs, p, "task")
}

/// [`pager`] for any list: `p` gives the page shape (its rows are not used), `noun` names
/// one item in the summary ("task", "record").
pub fn pager_of(
    path: &str,
    pairs: &[(String, String)],
    p: &TaskPage,
    noun: &str,
) -> (Vec<PagerItem>, String) {
    let link = |label: &str, title: String, page: i64, enabled: bool| PagerItem {
        label: label.to_owned(),
        title,
        href: enabled.then(|| page_href(path, pairs, page)),
        current: false,
    };
    let known = p.known_pages();
    let mut items = vec![
        link("« First", "First page".into(), 1, p.page > 1),
        link("‹ Previous", "Previous page".into(), p.page - 1, p.page > 1),
    ];
    for n in (p.page - WINDOW).max(1)..=(p.page + WINDOW).min(known) {
        items.push(PagerItem {
            label: n.to_string(),
            title: format!("Page {n}"),
            href: (n != p.page).then(|| page_href(path, pairs, n)),
            current: n == p.page,
        });
    }
    items.push(link("Next ›", "Next page".into(), p.page + 1, p.has_next()));
    if let Some(last) = p.last_page() {
        items.push(link(
            "Last »",
            format!("Last page ({last})"),
            last,
            p.page < last,
        ));
    }
    let summary = match p.last_page() {
        Some(last) => format!(
            "Page {} of {last}; {} {noun}{} in total.",
            p.page,
            p.total,
            if p.total == 1 { "" } else { "s" }
        ),
        None => format!(
            "Page {}; more than {} {noun}s in total (counting stops there).",
            p.page, p.total
        ),
    };
    (items, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: i64, per_page: i64, total: i64, exact: bool) -> TaskPage {
        TaskPage {
            rows: Vec::new(),
            idnum_names: Default::default(),
            page,
            per_page,
            total,
            total_is_exact: exact,
            text_filter_not_applied: false,
        }
    }

    #[test]
    fn rows_per_page_accepts_only_the_choices() {
        for ok in ["10", "25", "50", "100", " 50 "] {
            assert!(parse_rows_per_page(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0",
            "7",
            "-1",
            "abc",
            "",
            "1000",
            "25.0",
            "99999999999999999999",
        ] {
            assert!(parse_rows_per_page(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn params_parse_page_and_ignore_via_index() {
        let p = parse_params("page=3&via_index=false&rows_per_page=10").unwrap();
        assert_eq!((p.page, p.rows_per_page), (3, Some(10)));
        assert_eq!(parse_params("").unwrap().page, 1);
        assert_eq!(parse_params("page=0").unwrap().page, 1);
        assert_eq!(parse_params("page=-5").unwrap().page, 1);
        assert!(parse_params("page=x").is_err());
        assert!(parse_params("page=1.5").is_err());
        assert!(parse_params("rows_per_page=7").is_err());
        assert!(parse_params("via_index=maybe").is_ok());
    }

    #[test]
    fn session_page_size_falls_back_to_25() {
        assert_eq!(session_page_size(None), 25);
        assert_eq!(session_page_size(Some(50)), 50);
        assert_eq!(session_page_size(Some(0)), 25);
        assert_eq!(session_page_size(Some(-3)), 25);
        assert_eq!(session_page_size(Some(20)), 20);
    }

    #[test]
    fn hrefs_keep_params_sorted_and_replace_page() {
        let pairs = vec![
            ("rows_per_page".to_string(), "10".to_string()),
            ("page".to_string(), "2".to_string()),
            ("a b".to_string(), "x&y".to_string()),
        ];
        assert_eq!(
            page_href("/view_tasks", &pairs, 5),
            "/view_tasks?a+b=x%26y&page=5&rows_per_page=10"
        );
        assert_eq!(page_href("/view_tasks", &[], 1), "/view_tasks?page=1");
    }

    #[test]
    fn pager_shows_window_and_ends() {
        let (items, summary) = pager("/v", &[], &page(5, 10, 200, true));
        let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "« First",
                "‹ Previous",
                "2",
                "3",
                "4",
                "5",
                "6",
                "7",
                "8",
                "Next ›",
                "Last »"
            ]
        );
        assert!(items
            .iter()
            .any(|i| i.current && i.label == "5" && i.href.is_none()));
        assert_eq!(items[10].href.as_deref(), Some("/v?page=20"));
        assert_eq!(summary, "Page 5 of 20; 200 tasks in total.");
        let (one, summary) = pager("/v", &[], &page(1, 25, 1, true));
        assert!(one.iter().all(|i| i.href.is_none()));
        assert_eq!(summary, "Page 1 of 1; 1 task in total.");
        let (capped, summary) = pager("/v", &[], &page(1, 25, 10_000, false));
        assert!(capped.iter().all(|i| i.label != "Last »"));
        assert!(capped
            .iter()
            .any(|i| i.label == "Next ›" && i.href.is_some()));
        assert!(summary.contains("more than 10000"));
    }
}
