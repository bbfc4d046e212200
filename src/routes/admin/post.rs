//! How the admin pages' own extractors are built: [`extract_then`] reads a tuple of actix
//! extractors exactly as a handler taking them as arguments would (same polling, so the same
//! error wins), then runs the page's opening on them. The extractors themselves live with
//! their pages (`users::opening`, `groups::opening`); only this shared machinery is here.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::error::AppError;

/// The future of an admin extractor.
pub type Opening<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// Extracts `X` (a tuple of extractors, in the order a handler would list them), then gives it
/// to `open`. An extractor's error is answered as if the handler had taken `X` itself; an
/// error of `open` as if the handler had returned it.
pub fn extract_then<X, T>(
    req: &HttpRequest,
    payload: &mut Payload,
    open: impl FnOnce(X) -> Result<T, AppError> + 'static,
) -> Opening<T>
where
    X: FromRequest + 'static,
{
    let extracted = X::from_request(req, payload);
    Box::pin(async move {
        let x = extracted.await.map_err(Into::into)?;
        Ok(open(x)?)
    })
}
