//! Diesel models: one file per table (or close family of tables), row structs, `New*`
//! insertables and query functions that take `conn` first and know nothing of HTTP.

pub mod audit;
pub mod group;
pub mod lockout;
pub mod server_settings;
pub mod user;
