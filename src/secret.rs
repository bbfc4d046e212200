//! `Secret`: a password, token or key held so that it cannot reach a log by accident.

use std::fmt;

/// A secret text. `Debug` prints `<hidden>` (so a struct holding one can derive `Debug`),
/// there is no `Display`, and the text itself is read only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret text, for the one place that needs it (a key derivation, a login, a form).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Secret {
        Secret(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_hides_the_text_and_expose_gives_it() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "<hidden>");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(<hidden>)");
        assert_eq!(s.expose(), "hunter2");
    }
}
