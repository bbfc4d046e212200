//! ID policies of groups (upload and finalize): the policy language of the original
//! (`cc_policy.py`), parsed and judged here with our own code. A policy names patient
//! information (`forename`, `surname`, `dob`, `sex`, `address`, `gp`, `otherdetails`,
//! `anyidnum`, `otheridnum`, `idnum<N>`) joined by `AND` / `OR`, with `NOT` and brackets, any
//! case. As in the original, `AND` and `OR` have equal precedence and are applied left to
//! right: `a OR b AND c` means `(a OR b) AND c`.
//!
//! A policy is valid when it is well formed, names only ID numbers defined on the server, and
//! is at least as strict as the tablet's minimum policy
//! (`sex AND ((forename AND surname AND dob) OR anyidnum)`): it must require `sex`, and either
//! an ID number or all of `forename`, `surname` and `dob`. "Requires X" is judged with the
//! original's four-valued logic: X present and everything else unknown makes the policy true,
//! X absent and everything else unknown makes it false.

mod logic;

use logic::{Known, Q};

/// The tablet's minimum ID policy, as the original shows it in messages.
pub const TABLET_ID_POLICY: &str = "sex AND ((forename AND surname AND dob) OR anyidnum)";

/// Longest policy text (the columns are VARCHAR(255)).
pub const MAX_POLICY_CHARS: usize = 255;

/// A piece of patient information a policy can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Info {
    /// `FORENAME`.
    Forename,
    /// `SURNAME`.
    Surname,
    /// `DOB`.
    Dob,
    /// `SEX`.
    Sex,
    /// `ADDRESS`.
    Address,
    /// `GP`.
    Gp,
    /// `OTHERDETAILS`.
    OtherDetails,
    /// `ANYIDNUM`: at least one ID number.
    AnyIdNum,
    /// `OTHERIDNUM`: an ID number the policy does not name.
    OtherIdNum,
    /// `IDNUM<n>` (n ≥ 1). Numbers too large for the database are kept as `u64::MAX`, which
    /// never names a defined ID number.
    IdNum(u64),
}

/// One token of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Info(Info),
}

fn word_token(word: &str) -> Option<Token> {
    let upper = word.to_ascii_uppercase();
    let info = match upper.as_str() {
        "AND" => return Some(Token::And),
        "OR" => return Some(Token::Or),
        "NOT" => return Some(Token::Not),
        "FORENAME" => Info::Forename,
        "SURNAME" => Info::Surname,
        "DOB" => Info::Dob,
        "SEX" => Info::Sex,
        "ADDRESS" => Info::Address,
        "GP" => Info::Gp,
        "OTHERDETAILS" => Info::OtherDetails,
        "ANYIDNUM" => Info::AnyIdNum,
        "OTHERIDNUM" => Info::OtherIdNum,
        _ => {
            let digits = upper.strip_prefix("IDNUM")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n = digits.parse::<u64>().unwrap_or(u64::MAX);
            if n == 0 {
                return None;
            }
            Info::IdNum(n)
        }
    };
    Some(Token::Info(info))
}

/// Splits a policy into tokens; `None` if any part is not a token of the language.
fn tokenize(policy: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| -> Option<()> {
        if !word.is_empty() {
            tokens.push(word_token(word)?);
            word.clear();
        }
        Some(())
    };
    for c in policy.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut tokens)?;
        match c {
            '(' => tokens.push(Token::LParen),
            ')' => tokens.push(Token::RParen),
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    flush(&mut word, &mut tokens)?;
    Some(tokens)
}

/// The policy as a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Info(Info),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// Recursive-descent parser over the tokens: `expr := unary ((AND|OR) unary)*`,
/// `unary := NOT unary | '(' expr ')' | info`.
struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    depth: usize,
}

/// Deepest nesting accepted: more than a 255-character policy can hold, and little enough
/// stack for any text (deeper input is a syntax error, not a crash).
const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    fn expr(&mut self) -> Option<Expr> {
        let mut left = self.unary()?;
        while let Some(op @ (Token::And | Token::Or)) = self.peek() {
            self.at += 1;
            let right = self.unary()?;
            left = if op == Token::And {
                Expr::And(Box::new(left), Box::new(right))
            } else {
                Expr::Or(Box::new(left), Box::new(right))
            };
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<Expr> {
        let token = self.peek()?;
        self.at += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let out = match token {
            Token::Not => self.unary().map(|e| Expr::Not(Box::new(e))),
            Token::LParen => self.expr().filter(|_| self.peek() == Some(Token::RParen)),
            Token::Info(i) => Some(Expr::Info(i)),
            Token::RParen | Token::And | Token::Or => None,
        };
        if token == Token::LParen && out.is_some() {
            self.at += 1;
        }
        self.depth -= 1;
        out
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyError {
    /// Not a sentence of the language (the original's "Syntactically invalid policy").
    Syntax,
    /// Names an ID number that is not defined here, or is less strict than the tablet's
    /// minimum policy.
    Invalid,
}

impl PolicyError {
    /// The original's message for this refusal.
    pub fn message(self) -> String {
        match self {
            PolicyError::Syntax => "Syntactically invalid policy".to_owned(),
            PolicyError::Invalid => format!(
                "Invalid policy. Have you referred to non-existent ID numbers? Is the policy \
                 less restrictive than the tablet’s minimum ID policy? ['{TABLET_ID_POLICY}']"
            ),
        }
    }
}

/// A well-formed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    expr: Expr,
}

impl Policy {
    /// Parses `text` (any case, any whitespace, line breaks included).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let tokens = tokenize(text).ok_or(PolicyError::Syntax)?;
        let mut p = Parser {
            tokens: &tokens,
            at: 0,
            depth: 0,
        };
        let expr = p.expr().ok_or(PolicyError::Syntax)?;
        if p.at != tokens.len() {
            return Err(PolicyError::Syntax);
        }
        Ok(Policy { expr })
    }

    /// Parses and checks against the ID numbers defined on the server and the tablet's
    /// minimum policy.
    pub fn parse_valid(text: &str, defined_idnums: &[i32]) -> Result<Policy, PolicyError> {
        let p = Policy::parse(text)?;
        if p.is_valid_for(defined_idnums) {
            Ok(p)
        } else {
            Err(PolicyError::Invalid)
        }
    }

    /// The ID numbers the policy names, in order of first mention.
    pub fn mentioned_idnums(&self) -> Vec<u64> {
        let mut out = Vec::new();
        self.expr.idnums(&mut out);
        out
    }

    /// Names only defined ID numbers and is at least as strict as the tablet's policy.
    pub fn is_valid_for(&self, defined_idnums: &[i32]) -> bool {
        let all_defined = self
            .mentioned_idnums()
            .iter()
            .all(|n| i32::try_from(*n).is_ok_and(|n| defined_idnums.contains(&n)));
        all_defined && self.at_least_tablet_minimum()
    }

    fn at_least_tablet_minimum(&self) -> bool {
        if !self.expr.requires(Info::Sex) {
            return false;
        }
        let mut id_items: Vec<Info> = self
            .mentioned_idnums()
            .into_iter()
            .map(Info::IdNum)
            .collect();
        id_items.extend([Info::AnyIdNum, Info::OtherIdNum]);
        if id_items.into_iter().any(|i| self.expr.requires(i)) {
            return true;
        }
        [Info::Forename, Info::Surname, Info::Dob]
            .into_iter()
            .all(|i| self.expr.requires(i))
    }

    /// The single ID number the policy cannot do without ("principal" ID number), if there
    /// is exactly one; `None` for an invalid policy. As the original: present (with other ID
    /// numbers unknown, and with them absent) satisfies the policy, absent fails it. A number
    /// named twice counts once (the original then finds none).
    pub fn critical_single_idnum(&self, defined_idnums: &[i32]) -> Option<u64> {
        if !self.is_valid_for(defined_idnums) {
            return None;
        }
        let critical: Vec<u64> = self
            .mentioned_idnums()
            .into_iter()
            .filter(|&n| {
                let with = Known {
                    item: Info::IdNum(n),
                    value: Q::True,
                    other_idnum: None,
                };
                let with_no_other = Known {
                    other_idnum: Some(Q::False),
                    ..with
                };
                let without = Known {
                    value: Q::False,
                    ..with
                };
                self.expr.eval(&with) == Q::True
                    && self.expr.eval(&with_no_other) == Q::True
                    && self.expr.eval(&without) == Q::False
            })
            .collect();
        match critical.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

/// Checks a policy field of the group form: required, at most 255 characters, then
/// [`Policy::parse_valid`]. Returns the text to store (trimmed) or the original's message.
pub fn validate_policy_field(raw: &str, defined_idnums: &[i32]) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("Required".to_owned());
    }
    if text.chars().count() > MAX_POLICY_CHARS {
        return Err(format!("Longer than maximum length {MAX_POLICY_CHARS}"));
    }
    Policy::parse_valid(text, defined_idnums)
        .map(|_| text.to_owned())
        .map_err(PolicyError::message)
}

#[cfg(test)]
mod tests;
