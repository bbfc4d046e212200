//! What one API call ends with: the reply and the session it carries. Its own module so that
//! the session flow (`session`) and the resume path (`resume`) both import it, one way.

use super::wire::Reply;
use crate::session::CamcopsSession;

/// A reply and the session it carries (`None`: id 0 and an empty token, nothing saved).
pub struct Outcome {
    /// The operation's reply.
    pub reply: Reply,
    /// Saved session id and plaintext token.
    pub session: Option<(i32, String)>,
}

impl Outcome {
    pub(super) fn sessionless(reply: Reply) -> Outcome {
        Outcome {
            reply,
            session: None,
        }
    }

    pub(super) fn with(reply: Reply, s: &CamcopsSession) -> Outcome {
        let session = s.id.map(|id| (id, s.token.clone()));
        Outcome { reply, session }
    }
}
