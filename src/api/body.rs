//! Reading an API request body ourselves: the content type, the 1 MiB limit, and a strict
//! `application/x-www-form-urlencoded` parser (bad percent escapes, invalid UTF-8, empty or
//! duplicate field names are rejected rather than guessed at).

use std::collections::HashMap;

use actix_web::web::{Bytes, Payload};
use actix_web::HttpRequest;

use crate::request_body::{self, collect, Unread, API_BODY_LIMIT as BODY_LIMIT};

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Over [`API_BODY_LIMIT`](crate::request_body::API_BODY_LIMIT): 413.
    TooLarge,
    /// Anything else: 400 (the reason goes to the log).
    Invalid(&'static str),
    /// A field (this one) with NUL or another control character: 400 naming the field.
    ControlCharacter(String),
}

/// Whether the request says `application/x-www-form-urlencoded`
/// ([`request_body::is_form_content_type`]).
pub fn is_form_content_type(req: &HttpRequest) -> bool {
    request_body::is_form_content_type(req.headers())
}

/// Reads the body, refusing early when `Content-Length` already says it is too large.
pub async fn read_body(req: &HttpRequest, mut payload: Payload) -> Result<Bytes, Rejected> {
    let declared = request_body::declared_length(req.headers());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(Rejected::TooLarge);
    }
    collect(&mut payload, BODY_LIMIT)
        .await
        .map_err(|why| match why {
            Unread::TooLarge => Rejected::TooLarge,
            Unread::Broken => Rejected::Invalid("body could not be read"),
        })
}

/// Parses a form body into fields. Empty `&&` segments are skipped; a segment without `=`
/// is a field with an empty value.
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, Rejected> {
    let mut fields = HashMap::new();
    for segment in body.split(|b| *b == b'&') {
        if segment.is_empty() {
            continue;
        }
        let (k, v) = match segment.iter().position(|b| *b == b'=') {
            Some(i) => (&segment[..i], &segment[i + 1..]),
            None => (segment, &b""[..]),
        };
        let key = decode(k)?;
        if key.is_empty() {
            return Err(Rejected::Invalid("empty field name"));
        }
        let value = decode(v)?;
        // No field of the protocol is multi-line text: every control character is refused.
        if crate::input::has_forbidden_control(&key, false)
            || crate::input::has_forbidden_control(&value, false)
        {
            return Err(Rejected::ControlCharacter(key));
        }
        if fields.insert(key, value).is_some() {
            return Err(Rejected::Invalid("duplicate field"));
        }
    }
    Ok(fields)
}

/// Percent-decodes one name or value (`+` is a space) and checks it is UTF-8.
fn decode(raw: &[u8]) -> Result<String, Rejected> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|b| hex(*b));
                let lo = raw.get(i + 2).and_then(|b| hex(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h * 16 + l),
                    _ => return Err(Rejected::Invalid("bad percent escape")),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Rejected::Invalid("not UTF-8"))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_encoded_fields() {
        let f =
            parse_form(b"operation=check_device_registered&user=a%2Cb&password=p+w%26%3D&flag&&")
                .unwrap();
        assert_eq!(f["operation"], "check_device_registered");
        assert_eq!(f["user"], "a,b");
        assert_eq!(f["password"], "p w&=");
        assert_eq!(f["flag"], "");
        assert_eq!(parse_form(b"").unwrap().len(), 0);
        assert_eq!(parse_form(b"x=%C3%A9").unwrap()["x"], "\u{e9}");
    }

    #[test]
    fn rejects_malformed_bodies() {
        for bad in [
            &b"a=1&a=2"[..],
            b"a=%zz",
            b"a=%4",
            b"a=%",
            b"=x",
            b"a=%FF%FE",
            b"a=\xff",
            b"\xc3=1",
        ] {
            assert!(
                matches!(parse_form(bad), Err(Rejected::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
