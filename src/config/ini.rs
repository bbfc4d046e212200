//! A reader for INI text with the semantics of Python's `configparser.ConfigParser()` as CamCOPS
//! uses it: case-sensitive section names, case-insensitive option names, `=` or `:` between key
//! and value, `#`/`;` full-line comments only, indented continuation lines (blank lines inside a
//! value kept, trailing ones dropped), `[DEFAULT]` inherited by every section, duplicate sections
//! or options refused, and `%%` / `%(name)s` interpolation when a value is read.
//!
//! The `configparser` crate was not used: it lower-cases section names together with keys,
//! accepts lines with no delimiter, and lets a repeated key silently win.
//!
//! Error messages carry line numbers but never line contents (a line may hold a secret).

use std::fmt;

/// Python's `DEFAULTSECT`: options here are visible in every section.
const DEFAULT_SECTION: &str = "DEFAULT";
/// Python's `MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// One option: its lower-cased name, joined value and the line it started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniOption {
    /// The name, lower-cased (Python's `optionxform`).
    pub key: String,
    /// The value, continuation lines joined with `\n`, trailing whitespace removed.
    pub value: String,
    /// 1-based line of the `key = value` line.
    pub line: usize,
}

/// One `[section]` with its options in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniSection {
    /// The name exactly as written between the brackets.
    pub name: String,
    /// The options, in file order.
    pub options: Vec<IniOption>,
}

/// A parsed file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    sections: Vec<IniSection>,
    defaults: Vec<IniOption>,
}

/// Why the text is not a valid INI file (as Python would have refused it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, without the line's text.
    pub message: String,
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why `%` interpolation of a value failed (Python's `InterpolationError`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    /// A `%` not followed by `%` or `(name)s`.
    Syntax,
    /// `%(name)s` names an option that does not exist in the section or `[DEFAULT]`.
    MissingOption(String),
    /// References nested more than 10 deep (usually a loop).
    TooDeep,
}

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpolationError::Syntax => f.write_str(
                "every '%' written as '%%' (a literal %) or starting '%(name)s' \
                 (the value of key name)",
            ),
            InterpolationError::MissingOption(name) => write!(
                f,
                "%(name)s to name a key that is set, but there is no '{name}' in this section \
                 or [DEFAULT] (write %% for a literal %)"
            ),
            InterpolationError::TooDeep => {
                f.write_str("%(name)s references nested at most 10 deep (is there a loop?)")
            }
        }
    }
}

/// Where the lines being read belong while parsing.
#[derive(Clone, Copy)]
enum Target {
    Defaults,
    Section(usize),
}

/// An option still being read: its lines are joined at the end.
struct Pending {
    key: String,
    lines: Vec<String>,
    line: usize,
}

impl Pending {
    fn finish(self) -> IniOption {
        IniOption {
            key: self.key,
            value: self.lines.join("\n").trim_end().to_string(),
            line: self.line,
        }
    }
}

impl Ini {
    /// Parses the text of a whole file.
    pub fn parse(text: &str) -> Result<Ini, IniError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut defaults: Vec<Pending> = Vec::new();
        let mut sections: Vec<(String, Vec<Pending>)> = Vec::new();
        let mut target: Option<Target> = None;
        // Whether the last option of `target` may still take continuation lines.
        let mut in_option = false;
        let mut indent_level = 0usize;

        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let stripped = raw.trim();
            let options = match target {
                None => None,
                Some(Target::Defaults) => Some(&mut defaults),
                Some(Target::Section(i)) => sections.get_mut(i).map(|(_, o)| o),
            };
            let current = options.and_then(|o| o.last_mut()).filter(|_| in_option);
            if stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            if stripped.is_empty() {
                // A blank line inside a value is kept (Python: empty_lines_in_values).
                if let Some(opt) = current {
                    opt.lines.push(String::new());
                }
                continue;
            }
            let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
            if let Some(opt) = current.filter(|_| indent > indent_level) {
                opt.lines.push(stripped.to_string());
                continue;
            }
            indent_level = indent;
            if let Some(name) = section_header(stripped) {
                in_option = false;
                if name == DEFAULT_SECTION {
                    target = Some(Target::Defaults);
                } else if sections.iter().any(|(n, _)| n == name) {
                    return Err(IniError {
                        line: line_no,
                        message: format!("section [{name}] appears twice"),
                    });
                } else {
                    sections.push((name.to_string(), Vec::new()));
                    target = Some(Target::Section(sections.len() - 1));
                }
                continue;
            }
            let (section_name, options) = match target {
                None => {
                    return Err(IniError {
                        line: line_no,
                        message: "text before the first [section] header".into(),
                    })
                }
                Some(Target::Defaults) => (DEFAULT_SECTION, &mut defaults),
                Some(Target::Section(i)) => match sections.get_mut(i) {
                    Some((n, o)) => (n.as_str(), o),
                    None => (DEFAULT_SECTION, &mut defaults),
                },
            };
            let Some(delim) = stripped.find(['=', ':']) else {
                return Err(IniError {
                    line: line_no,
                    message: "expected `[section]`, `key = value`, `key: value`, a comment \
                              or an indented continuation line"
                        .into(),
                });
            };
            let key = stripped[..delim].trim_end().to_lowercase();
            if key.is_empty() {
                return Err(IniError {
                    line: line_no,
                    message: "a line starts with '=' or ':' (the key is missing)".into(),
                });
            }
            if options.iter().any(|o| o.key == key) {
                return Err(IniError {
                    line: line_no,
                    message: format!("option {key} appears twice in section [{section_name}]"),
                });
            }
            options.push(Pending {
                key,
                lines: vec![stripped[delim + 1..].trim().to_string()],
                line: line_no,
            });
            in_option = true;
        }

        Ok(Ini {
            sections: sections
                .into_iter()
                .map(|(name, options)| IniSection {
                    name,
                    options: options.into_iter().map(Pending::finish).collect(),
                })
                .collect(),
            defaults: defaults.into_iter().map(Pending::finish).collect(),
        })
    }

    /// The sections in file order (not `[DEFAULT]`).
    pub fn sections(&self) -> &[IniSection] {
        &self.sections
    }

    /// The options of `[DEFAULT]`.
    pub fn defaults(&self) -> &[IniOption] {
        &self.defaults
    }

    /// Whether `[name]` is present (case-sensitive).
    pub fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|s| s.name == name)
    }

    /// The raw (uninterpolated) option: from the section, else from `[DEFAULT]`; `None` if
    /// the section is missing (as Python's `NoSectionError`) or the option is not set.
    pub fn get_raw(&self, section: &str, key: &str) -> Option<&IniOption> {
        let sec = self.sections.iter().find(|s| s.name == section)?;
        let key = key.to_lowercase();
        sec.options
            .iter()
            .find(|o| o.key == key)
            .or_else(|| self.defaults.iter().find(|o| o.key == key))
    }

    /// The value with Python's `BasicInterpolation` applied; `None` as for `get_raw`.
    pub fn get(&self, section: &str, key: &str) -> Option<Result<String, InterpolationError>> {
        let raw = self.get_raw(section, key)?;
        let mut out = String::new();
        Some(
            self.interpolate(section, &raw.value, 1, &mut out)
                .map(|()| out),
        )
    }

    fn interpolate(
        &self,
        section: &str,
        value: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), InterpolationError> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(InterpolationError::TooDeep);
        }
        let mut rest = value;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('%') {
                out.push('%');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('(') {
                let close = inner.find(')').ok_or(InterpolationError::Syntax)?;
                let name = &inner[..close];
                let tail = inner[close + 1..]
                    .strip_prefix('s')
                    .ok_or(InterpolationError::Syntax)?;
                if name.is_empty() {
                    return Err(InterpolationError::Syntax);
                }
                let target = self
                    .get_raw(section, name)
                    .ok_or_else(|| InterpolationError::MissingOption(name.to_lowercase()))?;
                if target.value.contains('%') {
                    self.interpolate(section, &target.value, depth + 1, out)?;
                } else {
                    out.push_str(&target.value);
                }
                rest = tail;
            } else {
                return Err(InterpolationError::Syntax);
            }
        }
        out.push_str(rest);
        Ok(())
    }
}

/// `[name]` → `name` (Python: `\[(?P<header>.+)\]` matched at the start, so up to the last `]`).
fn section_header(stripped: &str) -> Option<&str> {
    let inner = stripped.strip_prefix('[')?;
    let end = inner.rfind(']')?;
    (end > 0).then(|| &inner[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(ini: &Ini, section: &str, key: &str) -> String {
        ini.get(section, key).unwrap().unwrap()
    }

    #[test]
    fn keys_fold_case_sections_do_not() {
        let ini = Ini::parse("[Site]\nDb_Url = a\n[site]\nDB_URL: b\n").unwrap();
        assert_eq!(value(&ini, "Site", "db_url"), "a");
        assert_eq!(value(&ini, "site", "DB_URL"), "b");
        assert!(ini.get("SITE", "db_url").is_none());
        assert_eq!(ini.sections()[0].name, "Site");
    }

    #[test]
    fn comments_are_whole_lines_only() {
        let text =
            "# top\n; also\n[s]\n  # indented comment\nA = x # not a comment\nB = y ; nor this\n";
        let ini = Ini::parse(text).unwrap();
        assert_eq!(value(&ini, "s", "a"), "x # not a comment");
        assert_eq!(value(&ini, "s", "b"), "y ; nor this");
    }

    #[test]
    fn first_delimiter_splits_and_whitespace_is_stripped() {
        let text = "[s]\nurl = mysql://u:p@h/db?x=1\nk:v=w\nempty =\nspaced   =   v  \n";
        let ini = Ini::parse(text).unwrap();
        assert_eq!(value(&ini, "s", "url"), "mysql://u:p@h/db?x=1");
        assert_eq!(value(&ini, "s", "k"), "v=w");
        assert_eq!(value(&ini, "s", "empty"), "");
        assert_eq!(value(&ini, "s", "spaced"), "v");
        // As in Python, an indented `key = value` after an option continues that option.
        let ini = Ini::parse("[s]\nempty =\n  more = v\n").unwrap();
        assert_eq!(value(&ini, "s", "empty"), "\nmore = v");
    }

    #[test]
    fn continuation_lines_make_multiline_values() {
        let text = "[s]\nL =\n    one\n\n    two\n      deeper\n# c\n    three\n\n\nNEXT = 1\n";
        let ini = Ini::parse(text).unwrap();
        assert_eq!(value(&ini, "s", "l"), "\none\n\ntwo\ndeeper\nthree");
        assert_eq!(value(&ini, "s", "next"), "1");
        let ini = Ini::parse("[s]\nM = a\n  b\n").unwrap();
        assert_eq!(value(&ini, "s", "m"), "a\nb");
    }

    #[test]
    fn indented_option_after_header_is_an_option() {
        let ini = Ini::parse("[s]\n    A = 1\n    B = 2\n").unwrap();
        assert_eq!(value(&ini, "s", "a"), "1");
        assert_eq!(value(&ini, "s", "b"), "2");
    }

    #[test]
    fn errors_name_the_line_but_not_its_text() {
        let e = Ini::parse("[s]\nA = 1\nsecretvalue\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(!e.to_string().contains("secretvalue"), "{e}");
        assert_eq!(Ini::parse("A = 1\n").unwrap_err().line, 1);
        assert_eq!(Ini::parse("[s]\n= 1\n").unwrap_err().line, 2);
        let e = Ini::parse("[s]\nA = 1\na = 2\n").unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
        let e = Ini::parse("[s]\n[t]\n[s]\n").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn default_section_is_inherited() {
        let ini = Ini::parse("[DEFAULT]\nX = d\nY = d\n[s]\nY = s\n").unwrap();
        assert_eq!(value(&ini, "s", "x"), "d");
        assert_eq!(value(&ini, "s", "y"), "s");
        assert!(!ini.has_section("DEFAULT"));
    }

    #[test]
    fn interpolation_as_python_basic() {
        let text = "[DEFAULT]\nhost = h\n[s]\npw = a%%b\nurl = mysql://u:%(pw)s@%(HOST)s/db\n\
                    bad = 50%\nmissing = %(nope)s\nloop = %(loop)s\n";
        let ini = Ini::parse(text).unwrap();
        assert_eq!(value(&ini, "s", "pw"), "a%b");
        assert_eq!(value(&ini, "s", "url"), "mysql://u:a%b@h/db");
        assert_eq!(
            ini.get("s", "bad").unwrap(),
            Err(InterpolationError::Syntax)
        );
        assert_eq!(
            ini.get("s", "missing").unwrap(),
            Err(InterpolationError::MissingOption("nope".into()))
        );
        assert_eq!(
            ini.get("s", "loop").unwrap(),
            Err(InterpolationError::TooDeep)
        );
    }

    #[test]
    fn bom_crlf_and_utf8() {
        let ini = Ini::parse("\u{feff}[s]\r\nName = Zoë ✓\r\nL =\r\n  a\r\n  b\r\n").unwrap();
        assert_eq!(value(&ini, "s", "name"), "Zoë ✓");
        assert_eq!(value(&ini, "s", "l"), "\na\nb");
    }

    #[test]
    fn section_header_takes_up_to_last_bracket() {
        let ini = Ini::parse("[recipient:a]\nX = 1\n[site] trailing\nY = 2\n").unwrap();
        assert!(ini.has_section("recipient:a"));
        assert!(ini.has_section("site"));
    }
}
