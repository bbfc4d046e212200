//! The one integration-test binary: each module tests one area, on every available backend
//! (see `testdb`). Add a `mod` line per new module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account_pages;
mod accounts;
mod admin_input;
mod admin_pages;
mod admin_races;
mod adoption;
mod api;
mod audit_pages;
mod camcops_fixture;
mod camcops_logins;
mod camcops_sessions;
mod camcops_task_list;
mod group_admin;
mod health;
mod helpers;
mod hotp_login;
mod login_throttle;
mod mail_delivery;
// A shared harness (its own `allow(dead_code)`: not every test uses every helper).
pub mod mail_server;
mod migrations;
mod own_mfa;
mod recovery_codes;
mod resilience;
mod second_factor;
mod security_notices;
mod session_http;
mod session_model;
mod slow_clients;
mod sms_backends;
mod spec_references;
mod statement_budget;
mod task_index_queries;
mod task_pages;
mod task_query;
mod task_seed;
mod user_admin_camcops;
mod user_admin_effects;
mod user_admin_forms;
mod user_admin_matrix;
mod user_admin_world;
mod user_contact;
mod user_readiness;
// A shared harness: not every binary that includes it uses every helper.
#[allow(dead_code)]
mod testdb;
