//! The one opening of an admin request about one target (a user, a group) as an extractor:
//! [`Opened<P>`] reads the extractors page `P` names ([`TargetPage::Parts`]) exactly as a
//! handler taking them as arguments would (the same polling, so the same error wins), then
//! runs `P`'s opening on them ([`TargetPage::open`]); [`Opened::read`] reads what the page
//! shows about the target in one read unit. The pages' openings live with them
//! (`users::opening`, `groups::opening`); only this shared machinery is here.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::auth::principal::AuthUser;
use crate::db::{run_db_read, DbConnection};
use crate::error::AppError;
use crate::routes::form::Fields;
use crate::session::extract::LoggedIn;
use crate::state::AppState;

/// A page about one target: how a request to it is opened. Its implementors are marker
/// types, the type parameter of [`Opened`].
pub trait TargetPage: 'static {
    /// What a handler would take as arguments, in that order.
    type Parts: FromRequest + 'static;
    /// The opening on them: the administrator, the form (empty for a GET) and the target's id.
    /// An error is answered as if the handler had returned it.
    fn open(parts: Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError>;
}

/// A request to page `P`, opened: the logged-in administrator, the form and the target's id.
pub struct Opened<P> {
    /// The administrator.
    pub li: LoggedIn,
    /// The form (empty for a GET).
    pub form: Fields,
    /// The target's id.
    pub id: i32,
    page: PhantomData<P>,
}

impl<P: TargetPage> FromRequest for Opened<P> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parts = P::Parts::from_request(req, payload);
        Box::pin(async move {
            let (li, form, id) = P::open(parts.await.map_err(Into::into)?)?;
            Ok(Opened {
                li,
                form,
                id,
                page: PhantomData,
            })
        })
    }
}

impl<P> Opened<P> {
    /// Runs `read` with the administrator and the target's id, in one read unit.
    pub async fn read<T, F>(&self, state: &AppState, read: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection, &AuthUser, i32) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (me, id) = (self.li.user.clone(), self.id);
        run_db_read(&state.pool, move |conn| read(conn, &me, id)).await
    }
}
