//! Sessions: the `CamcopsSession` model (no HTTP), tokens, wizard state, housekeeping, and the
//! web side (cookie, CSRF, client IP, extractors).

pub mod client_ip;
pub mod cookie;
pub mod extract;
pub mod form_state;
pub mod housekeeping;
pub mod model;
pub mod token;

pub use form_state::FormState;
pub use model::{CamcopsSession, Resolved, SessionExtras, SessionPolicy};
