//! Diesel models: one file per table (or close family of tables), row structs, `New*`
//! insertables and query functions that take `conn` first and know nothing of HTTP.

pub mod audit;
pub mod device;
pub mod group;
pub mod group_admin;
pub mod idnum;
pub mod ip_use;
pub mod lockout;
pub mod patient;
pub mod policy;
pub mod recovery_code;
pub mod server_settings;
pub mod task_filter;
pub mod task_index;
pub mod task_registry;
pub mod totp_step;
pub mod user;
