//! The opening of a POST on one group's page (`?group_id=N`), as an extractor ([`Opened`]):
//! [`GroupPost`] runs [`open_group_post`] (login-or-redirect back to the page, CSRF, then the
//! group's id) for the page named by its type parameter ([`GroupPage`]).

use std::marker::PhantomData;

use actix_web::web;

use super::{open_group_post, GroupIdQuery};
use crate::error::AppError;
use crate::routes::admin::post::{Opened, TargetPage};
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
pub type GroupPost<P> = Opened<GroupAt<P>>;

/// Group page `P` posted to, as a [`TargetPage`].
pub struct GroupAt<P>(PhantomData<P>);

impl<P: GroupPage> TargetPage for GroupAt<P> {
    type Parts = (
        Result<Superuser, AppError>,
        web::Query<GroupIdQuery>,
        web::Form<Fields>,
    );

    fn open((su, query, form): Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError> {
        let (li, id) = open_group_post(su, P::PATH, &query, &form)?;
        Ok((li, form.into_inner(), id))
    }
}
