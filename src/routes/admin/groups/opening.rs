//! The opening of a POST on one group's page (`?group_id=N`), as an extractor: [`GroupPost`]
//! runs [`open_group_post`] (login-or-redirect back to the page, CSRF, then the group's id)
//! for the page named by its type parameter ([`GroupPage`]).

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::{open_group_post, GroupIdQuery};
use crate::error::AppError;
use crate::routes::admin::post::{extract_then, Opening};
use crate::routes::form::Fields;
use crate::session::extract::{LoggedIn, Superuser};

/// A group page with a POST (the type parameter of [`GroupPost`]).
pub trait GroupPage: 'static {
    /// Its path, where an anonymous visitor comes back after logging in.
    const PATH: &'static str;
}

/// `/edit_group`.
pub struct EditGroup;

impl GroupPage for EditGroup {
    const PATH: &'static str = "/edit_group";
}

/// `/delete_group`.
pub struct DeleteGroup;

impl GroupPage for DeleteGroup {
    const PATH: &'static str = "/delete_group";
}

/// The opening of a POST on group page `P` ([`open_group_post`]): the logged-in superuser,
/// the form and the group's id.
pub struct GroupPost<P> {
    /// The superuser.
    pub li: LoggedIn,
    /// The form.
    pub form: Fields,
    /// The group's id.
    pub id: i32,
    page: PhantomData<P>,
}

/// What a handler taking these would extract, in this order.
type PostParts = (
    Result<Superuser, AppError>,
    web::Query<GroupIdQuery>,
    web::Form<Fields>,
);

impl<P: GroupPage> FromRequest for GroupPost<P> {
    type Error = actix_web::Error;
    type Future = Opening<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        extract_then(req, payload, |(su, query, form): PostParts| {
            let (li, id) = open_group_post(su, P::PATH, &query, &form)?;
            Ok(GroupPost {
                li,
                form: form.into_inner(),
                id,
                page: PhantomData,
            })
        })
    }
}
