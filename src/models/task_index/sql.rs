//! Small SQL fragments the task list query needs that diesel does not offer for a query boxed
//! for `MultiBackend`.

use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool};

use crate::db::{DbConnection, MultiBackend};

/// `SELECT COUNT(*) FROM (<inner>) AS capped_count`.
#[derive(Debug, Clone, QueryId)]
pub(crate) struct CountOf<Q>(pub(crate) Q);

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for CountOf<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("SELECT COUNT(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS capped_count");
        Ok(())
    }
}

impl<Q> Query for CountOf<Q> {
    type SqlType = BigInt;
}

impl<Q> RunQueryDsl<DbConnection> for CountOf<Q> {}

/// `<lhs> IN (<subquery>)`. Diesel's own `eq_any(subquery)` needs the subquery to render for
/// every backend, which a query boxed for `MultiBackend` cannot; this renders through it.
#[derive(Debug, Clone, QueryId)]
pub(super) struct InSubquery<L, S>(pub(super) L, pub(super) S);

impl<L: Expression, S> Expression for InSubquery<L, S> {
    type SqlType = Bool;
}

impl<L, S> QueryFragment<MultiBackend> for InSubquery<L, S>
where
    L: QueryFragment<MultiBackend>,
    S: QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        self.1.walk_ast(out.reborrow())?;
        out.push_sql("))");
        Ok(())
    }
}

impl<L: AppearsOnTable<QS>, S, QS> AppearsOnTable<QS> for InSubquery<L, S> {}

impl<L: SelectableExpression<QS>, S, QS> SelectableExpression<QS> for InSubquery<L, S> {}

impl<L, S> ValidGrouping<()> for InSubquery<L, S> {
    type IsAggregate = is_aggregate::Never;
}

/// A column that SQLite must not use an index for when the flag is set: rendered `+col`, which
/// leaves the value alone but hides the column from the planner. The task list uses it to make
/// SQLite walk the `when_created_utc` index (newest first) when many rows match, instead of
/// collecting every match through another index and sorting them all.
#[derive(Debug, Clone, Copy)]
pub(super) struct NoIndex<C>(pub(super) C, pub(super) bool);

// The SQL depends on the flag, so no type-based statement caching.
impl<C> QueryId for NoIndex<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: Expression> Expression for NoIndex<C> {
    type SqlType = C::SqlType;
}

impl<DB: diesel::backend::Backend, C: QueryFragment<DB>> QueryFragment<DB> for NoIndex<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if self.1 {
            out.push_sql("+");
        }
        self.0.walk_ast(out)
    }
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for NoIndex<C> {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for NoIndex<C> {}

impl<C: ValidGrouping<()>> ValidGrouping<()> for NoIndex<C> {
    type IsAggregate = C::IsAggregate;
}
