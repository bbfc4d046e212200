//! camcops-web: the web-session subsystem and staff pages of the CamCOPS server, in Rust.

pub mod api;
pub mod auth;
pub mod blocking;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod html;
pub mod input;
pub mod log_limit;
pub mod messaging;
pub mod metrics;
pub mod metrics_listener;
pub mod models;
pub mod observe;
#[cfg(test)]
mod proptests;
pub mod request_body;
pub mod routes;
pub mod secret;
pub mod session;
pub mod startup;
pub mod state;
pub mod tls;
