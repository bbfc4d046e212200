//! Small SQL fragments the task list query needs that diesel does not offer for a query boxed
//! for `MultiBackend`.

use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable};

use crate::db::{DbConnection, MultiBackend};

/// `SELECT COUNT(*) FROM (<inner>) AS capped_count`.
#[derive(Debug, Clone, QueryId)]
pub(crate) struct CountOf<Q>(pub(crate) Q);

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for CountOf<Q> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        count_from(&self.0, "SELECT COUNT(*) FROM (", out)
    }
}

/// `<select> (<inner>) AS capped_count`, the shape of [`CountOf`] and [`CountAndTop`].
fn count_from<'b, Q: QueryFragment<MultiBackend>>(
    inner: &'b Q,
    select: &'static str,
    mut out: AstPass<'_, 'b, MultiBackend>,
) -> QueryResult<()> {
    out.push_sql(select);
    inner.walk_ast(out.reborrow())?;
    out.push_sql(") AS capped_count");
    Ok(())
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

/// `SELECT COUNT(*), (SELECT MAX(index_entry_pk) FROM _task_index) FROM (<inner>) AS
/// capped_count`: the capped count and, at the cost of one index probe, the largest key (an
/// estimate of the table's size, for the choice of plan), in one round trip.
#[derive(Debug, Clone, QueryId)]
pub(super) struct CountAndTop<Q>(pub(super) Q);

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for CountAndTop<Q> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        count_from(
            &self.0,
            "SELECT COUNT(*), (SELECT MAX(index_entry_pk) FROM _task_index) FROM (",
            out,
        )
    }
}

impl<Q> Query for CountAndTop<Q> {
    type SqlType = (BigInt, Nullable<Integer>);
}

impl<Q> RunQueryDsl<DbConnection> for CountAndTop<Q> {}

/// `(<subquery>)` as a scalar of type `ST` (NULL when it returns no row).
#[derive(Debug, Clone, QueryId)]
pub(super) struct Scalar<S, ST>(pub(super) S, pub(super) std::marker::PhantomData<ST>);

impl<S, ST: diesel::sql_types::SqlType + diesel::sql_types::SingleValue> Expression
    for Scalar<S, ST>
{
    type SqlType = Nullable<ST>;
}

impl<S: QueryFragment<MultiBackend>, ST> QueryFragment<MultiBackend> for Scalar<S, ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

impl<S, ST, QS> AppearsOnTable<QS> for Scalar<S, ST> where Scalar<S, ST>: Expression {}

impl<S, ST, QS> SelectableExpression<QS> for Scalar<S, ST> where Scalar<S, ST>: Expression {}

impl<S, ST> ValidGrouping<()> for Scalar<S, ST> {
    type IsAggregate = is_aggregate::Never;
}

/// `<col> IN (?, ?, …)` whose statement text depends only on the number of values rounded up
/// to a power of two (the last value repeats), so that a prepared statement can be cached and
/// reused: diesel's own `eq_any` marks every statement holding it as never to be cached, which
/// made MariaDB and SQLite prepare it afresh on every request. No values: `1=0`.
#[derive(Debug, Clone)]
pub(super) struct InList<C, T>(pub(super) C, pub(super) Vec<T>);

impl<C, T> QueryId for InList<C, T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: Expression, T> Expression for InList<C, T> {
    type SqlType = Bool;
}

impl<C, T> QueryFragment<MultiBackend> for InList<C, T>
where
    C: Expression + QueryFragment<MultiBackend>,
    MultiBackend: diesel::sql_types::HasSqlType<C::SqlType>,
    T: diesel::serialize::ToSql<C::SqlType, MultiBackend>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let Some(last) = self.1.len().checked_sub(1) else {
            out.push_sql("1=0");
            return Ok(());
        };
        out.push_sql("(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        for i in 0..self.1.len().next_power_of_two() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<C::SqlType, T>(&self.1[i.min(last)])?;
        }
        out.push_sql("))");
        Ok(())
    }
}

impl<C: AppearsOnTable<QS>, T, QS> AppearsOnTable<QS> for InList<C, T> where InList<C, T>: Expression
{}

impl<C: SelectableExpression<QS>, T, QS> SelectableExpression<QS> for InList<C, T> where
    InList<C, T>: AppearsOnTable<QS>
{
}

impl<C, T> ValidGrouping<()> for InList<C, T> {
    type IsAggregate = is_aggregate::Never;
}
