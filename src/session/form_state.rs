//! `form_state`: the typed wizard state kept in the session row as JSON (sessions §2.12).

use serde::{Deserialize, Serialize};

/// The codes a wizard sent by e-mail or text message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCodes {
    /// How many (limits "Send a new code").
    pub count: u32,
    /// Where the last one went, as the code page says it ("We've sent a code by …").
    pub to: String,
}

/// A method that sends codes (`hotp_email`, `hotp_sms`) being set up; its secret is
/// [`FormState::pending_secret`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMethod {
    /// The method.
    pub method: String,
    /// The e-mail address or E.164 phone number it sends to (empty until entered).
    #[serde(default)]
    pub to: String,
    /// The HOTP counter of the last code sent (0 before the first).
    #[serde(default)]
    pub counter: i32,
}

/// State of the one multi-step form in progress for a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormState {
    /// The wizard finished (the next request starts again).
    #[serde(default)]
    pub finished: bool,
    /// The route the state belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_name: Option<String>,
    /// Current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The user who passed the password step (login) — kept server-side only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_user_id: Option<i32>,
    /// Unix seconds when a code was issued or the password step passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_time: Option<i64>,
    /// Codes sent by e-mail or text message in this wizard (boxed: sessions stay small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Box<SentCodes>>,
    /// A secret being set up on the MFA page, before it is verified and stored on the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_secret: Option<String>,
    /// A method that sends codes being set up on the MFA page (boxed: sessions stay small):
    /// nothing is stored on the user until a code sent by it is entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Box<PendingMethod>>,
    /// The user a confirmation code was issued for (`delete_user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_user_id: Option<i32>,
    /// A confirmation code the server chose and must see again (`delete_user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_code: Option<String>,
}

impl FormState {
    /// Parses the column; bad JSON reads as an empty state.
    pub fn from_column(text: Option<&str>) -> FormState {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    /// Serialises for the column.
    pub fn to_column(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The original's reset rule: on a GET, or when the stored route differs from `route`,
    /// start afresh as `{finished: false, route_name: route}`. Returns whether it reset.
    pub fn enter(&mut self, route: &str, is_get: bool) -> bool {
        if is_get || self.route_name.as_deref() != Some(route) {
            *self = FormState {
                finished: false,
                route_name: Some(route.to_string()),
                ..FormState::default()
            };
            true
        } else {
            false
        }
    }

    /// For a wizard's POST: [`enter`](Self::enter) the route, and start afresh if the stored
    /// state had finished (a POST without state starts at the first step, as the original).
    pub fn resume(&mut self, route: &str) {
        self.enter(route, false);
        if self.finished {
            self.enter(route, true);
        }
    }

    /// The current step, or `first` when none is stored.
    pub fn step_or<'a>(&'a self, first: &'a str) -> &'a str {
        self.step.as_deref().unwrap_or(first)
    }

    /// Replaces the state with exactly `{finished: true, route_name, step}`.
    pub fn finish(&mut self) {
        *self = FormState {
            finished: true,
            route_name: self.route_name.take(),
            step: self.step.take(),
            ..FormState::default()
        };
    }

    /// "Clean": no MFA keys left in it.
    pub fn is_clean(&self) -> bool {
        self.mfa_user_id.is_none()
            && self.mfa_time.is_none()
            && self.pending_secret.is_none()
            && self.pending.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // sessions §6.5 FormWizardMixinTests re-expressed.
    #[test]
    fn other_route_resets_state_to_current_route() {
        let mut s = FormState {
            route_name: Some("other".into()),
            step: Some("mfa".into()),
            mfa_user_id: Some(3),
            ..Default::default()
        };
        assert!(s.enter("login", false));
        assert_eq!(s.route_name.as_deref(), Some("login"));
        assert!(s.step.is_none() && s.mfa_user_id.is_none());
    }

    #[test]
    fn same_route_post_keeps_state_get_resets() {
        let mut s = FormState {
            route_name: Some("login".into()),
            step: Some("mfa".into()),
            ..Default::default()
        };
        assert!(!s.enter("login", false));
        assert_eq!(s.step_or("password"), "mfa");
        assert!(s.enter("login", true));
        assert_eq!(s.step_or("password"), "password");
    }

    #[test]
    fn finish_keeps_exactly_three_keys_and_round_trips() {
        let mut s = FormState {
            route_name: Some("login".into()),
            step: Some("mfa".into()),
            mfa_user_id: Some(1),
            mfa_time: Some(1_234_567_890),
            ..Default::default()
        };
        assert!(!s.finished);
        s.finish();
        assert!(s.finished && s.is_clean());
        let json: serde_json::Value = serde_json::from_str(&s.to_column()).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 3);
        assert_eq!(FormState::from_column(Some(&s.to_column())), s);
        assert_eq!(
            FormState::from_column(Some("not json")),
            FormState::default()
        );
    }
}
