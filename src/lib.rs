//! camcops-web: the web-session subsystem and staff pages of the CamCOPS server, in Rust.

pub mod config;
pub mod db;
pub mod error;
pub mod models;
