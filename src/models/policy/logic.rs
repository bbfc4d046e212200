//! The original's four-valued logic for judging a policy: what a policy evaluates to when one
//! piece of patient information is known (present or absent) and the rest is unknown, and
//! from that, whether it "requires" that piece.

use super::{Expr, Info};

/// Four-valued truth: the original's quad-state logic. `Unknown` ("don't care") gives way to
/// the other operand of AND/OR and stays unknown under NOT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Q {
    True,
    False,
    Unknown,
}

impl Q {
    fn from_bool(b: bool) -> Q {
        if b {
            Q::True
        } else {
            Q::False
        }
    }

    fn not(self) -> Q {
        match self {
            Q::True => Q::False,
            Q::False => Q::True,
            Q::Unknown => Q::Unknown,
        }
    }

    fn combine(self, other: Q, and: bool) -> Q {
        match (self, other) {
            (Q::Unknown, x) | (x, Q::Unknown) => x,
            (a, b) if and => Q::from_bool(a == Q::True && b == Q::True),
            (a, b) => Q::from_bool(a == Q::True || b == Q::True),
        }
    }
}

/// What is known of a patient: one item set, everything else `Unknown`.
#[derive(Clone, Copy)]
pub(super) struct Known {
    pub(super) item: Info,
    pub(super) value: Q,
    /// `OTHERIDNUM` forced to a value (the critical-ID test).
    pub(super) other_idnum: Option<Q>,
}

impl Known {
    fn value_of(&self, info: Info) -> Q {
        if info == self.item {
            return self.value;
        }
        match (info, self.item) {
            (Info::OtherIdNum, _) => self.other_idnum.unwrap_or(Q::Unknown),
            // Any ID number present makes ANYIDNUM true.
            (Info::AnyIdNum, Info::IdNum(_)) if self.value == Q::True => Q::True,
            _ => Q::Unknown,
        }
    }
}

impl Expr {
    pub(super) fn eval(&self, k: &Known) -> Q {
        match self {
            Expr::Info(i) => k.value_of(*i),
            Expr::Not(e) => e.eval(k).not(),
            Expr::And(a, b) => a.eval(k).combine(b.eval(k), true),
            Expr::Or(a, b) => a.eval(k).combine(b.eval(k), false),
        }
    }

    pub(super) fn idnums(&self, out: &mut Vec<u64>) {
        match self {
            Expr::Info(Info::IdNum(n)) => {
                if !out.contains(n) {
                    out.push(*n);
                }
            }
            Expr::Info(_) => {}
            Expr::Not(e) => e.idnums(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.idnums(out);
                b.idnums(out);
            }
        }
    }

    /// True with `info` present, false with it absent, everything else unknown.
    pub(super) fn requires(&self, info: Info) -> bool {
        let with = Known {
            item: info,
            value: Q::True,
            other_idnum: None,
        };
        let without = Known {
            value: Q::False,
            ..with
        };
        self.eval(&with) == Q::True && self.eval(&without) == Q::False
    }
}
