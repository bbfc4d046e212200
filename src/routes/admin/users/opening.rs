//! The openings of one user's pages (`?user_id=N`), as extractors ([`Opened`]): [`UserGet`]
//! (the group administrator and the target's id) and [`UserPost`] ([`open_user_post`]:
//! login-or-redirect to the list, CSRF, then the id), each with the page's wording for an
//! unknown user ([`Wording`]), and the target's read for an action.

use std::marker::PhantomData;

use actix_web::web;

use super::{open_user_post, target_for, Missing, UserIdQuery};
use crate::auth::capability::Action;
use crate::auth::principal::AuthUser;
use crate::error::AppError;
use crate::routes::admin::post::{Opened, TargetPage};
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
/// wording). Its form is empty.
pub type UserGet<W> = Opened<Get<W>>;

/// The opening of a POST on one user's page ([`open_user_post`] in `W`'s wording): the
/// logged-in administrator, the form and the target's id.
pub type UserPost<W> = Opened<Post<W>>;

/// A user's page shown (GET) with `W`'s wording, as a [`TargetPage`].
pub struct Get<W>(PhantomData<W>);

/// A user's page posted to with `W`'s wording, as a [`TargetPage`].
pub struct Post<W>(PhantomData<W>);

impl<W: Wording> TargetPage for Get<W> {
    type Parts = (GroupAdmin, web::Query<UserIdQuery>);

    fn open((GroupAdmin(li), query): Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError> {
        let id = query.id(None, W::MISSING)?;
        Ok((li, Fields::default(), id))
    }
}

impl<W: Wording> TargetPage for Post<W> {
    type Parts = (
        Result<GroupAdmin, AppError>,
        web::Query<UserIdQuery>,
        web::Form<Fields>,
    );

    fn open((admin, query, form): Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError> {
        let (li, id) = open_user_post(admin, &query, &form, W::MISSING)?;
        Ok((li, form.into_inner(), id))
    }
}

impl<W: Wording> Wording for Get<W> {
    const MISSING: Missing = W::MISSING;
}

impl<W: Wording> Wording for Post<W> {
    const MISSING: Missing = W::MISSING;
}

impl<P: TargetPage + Wording> Opened<P> {
    /// The target as the administrator may see them for `action` ([`target_for`], one read
    /// unit).
    pub async fn target(&self, state: &AppState, action: Action) -> Result<AuthUser, AppError> {
        self.read(state, move |conn, me, id| {
            target_for(conn, me, id, P::MISSING, action)
        })
        .await
    }
}
