//! The openings of one user's pages (`?user_id=N`), as extractors: [`UserGet`] (the
//! group administrator and the target's id) and [`UserPost`] (the same after
//! [`open_user_post`]: login-or-redirect to the list, CSRF, then the id), each with the
//! page's wording for an unknown user ([`Wording`]), and the target's read for an action.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::{open_user_post, read_target, Missing, UserIdQuery};
use crate::auth::capability::Action;
use crate::auth::principal::AuthUser;
use crate::error::AppError;
use crate::routes::admin::post::{extract_then, Opening, Post, PostPage};
use crate::routes::form::Fields;
use crate::session::extract::{GroupAdmin, LoggedIn};
use crate::state::AppState;

/// How a page words an unknown or missing user id (the type parameter of the extractors).
pub trait Wording: 'static {
    /// The wording.
    const MISSING: Missing;
}

/// `Cannot find User with id:N` (the original's class views).
pub struct CannotFind;

impl Wording for CannotFind {
    const MISSING: Missing = Missing::CannotFind;
}

/// `No such user ID: N` (the original's function views).
pub struct NoSuchUser;

impl Wording for NoSuchUser {
    const MISSING: Missing = Missing::NoSuchUser;
}

/// The opening of a GET on one user's page: the group administrator (else their refusal),
/// then the target's id from the query string (missing or not an integer: 400 in `W`'s
/// wording).
pub struct UserGet<W> {
    /// The administrator.
    pub li: LoggedIn,
    /// The target's id.
    pub id: i32,
    wording: PhantomData<W>,
}

impl<W: Wording> FromRequest for UserGet<W> {
    type Error = actix_web::Error;
    type Future = Opening<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        extract_then(
            req,
            payload,
            |(GroupAdmin(li), query): (GroupAdmin, web::Query<UserIdQuery>)| {
                let id = query.id(None, W::MISSING)?;
                Ok(UserGet {
                    li,
                    id,
                    wording: PhantomData,
                })
            },
        )
    }
}

impl<W: Wording> UserGet<W> {
    /// The target as the administrator may see them for `action` ([`read_target`]).
    pub async fn target(&self, state: &AppState, action: Action) -> Result<AuthUser, AppError> {
        read_target(state, &self.li, self.id, W::MISSING, action).await
    }
}

/// The opening of a POST on one user's page ([`open_user_post`] in `W`'s wording): the
/// logged-in administrator, the form and the target's id.
pub type UserPost<W> = Post<UserPage<W>>;

/// A user's page with `W`'s wording, as a [`PostPage`].
pub struct UserPage<W>(PhantomData<W>);

/// What a handler taking these would extract, in this order.
type PostParts = (
    Result<GroupAdmin, AppError>,
    web::Query<UserIdQuery>,
    web::Form<Fields>,
);

impl<W: Wording> PostPage for UserPage<W> {
    type Parts = PostParts;

    fn open((admin, query, form): PostParts) -> Result<(LoggedIn, Fields, i32), AppError> {
        let (li, id) = open_user_post(admin, &query, &form, W::MISSING)?;
        Ok((li, form.into_inner(), id))
    }
}

impl<W: Wording> Post<UserPage<W>> {
    /// The target as the administrator may see them for `action` ([`read_target`]).
    pub async fn target(&self, state: &AppState, action: Action) -> Result<AuthUser, AppError> {
        read_target(state, &self.li, self.id, W::MISSING, action).await
    }
}
