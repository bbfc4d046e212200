//! How the admin pages' own extractors are built: [`extract_then`] reads a tuple of actix
//! extractors exactly as a handler taking them as arguments would (same polling, so the same
//! error wins), then runs the page's opening on them; [`Post`] is the opened POST of a page
//! that acts on one target, opened as its [`PostPage`] says. The pages' openings live with
//! them (`users::opening`, `groups::opening`, `sessions`); only this shared machinery is here.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::error::AppError;
use crate::routes::form::Fields;
use crate::session::extract::LoggedIn;

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

/// A page whose POST acts on one target (a user, a group, a session): how it is opened. Its
/// implementors are marker types, the type parameter of [`Post`].
pub trait PostPage: 'static {
    /// What a handler would take as arguments, in that order.
    type Parts: FromRequest + 'static;
    /// The opening on them: the administrator, the form and the target's id.
    fn open(parts: Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError>;
}

/// An opened POST of page `P`: the logged-in administrator, the form and the target's id.
pub struct Post<P> {
    /// The administrator.
    pub li: LoggedIn,
    /// The form.
    pub form: Fields,
    /// The target's id.
    pub id: i32,
    page: PhantomData<P>,
}

impl<P: PostPage> FromRequest for Post<P> {
    type Error = actix_web::Error;
    type Future = Opening<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        extract_then(req, payload, |parts| {
            let (li, form, id) = P::open(parts)?;
            Ok(Post {
                li,
                form,
                id,
                page: PhantomData,
            })
        })
    }
}
