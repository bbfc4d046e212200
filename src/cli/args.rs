//! The clap definitions of the command line: [`Cli`] and its [`Command`]s (kebab-case, with
//! the original's snake_case names as aliases; `--config FILE` is global, before or after the
//! subcommand). What each command does is in the parent module.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// camcops-web: the CamCOPS server's web sessions and staff pages.
#[derive(Debug, Parser)]
#[command(name = "camcops-web", version, about, long_about = None)]
pub struct Cli {
    /// Config file (CamCOPS INI format); defaults to $CAMCOPS_CONFIG_FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (HOST/PORT, UNIX_DOMAIN_SOCKET and TLS from [server]).
    Serve,
    /// Create or upgrade the database schema to the current version.
    #[command(alias = "upgrade_db")]
    UpgradeDb,
    /// Undo what `upgrade-db` added to a CamCOPS database (camcops-web's sessions, column,
    /// indexes and bookkeeping); CamCOPS' own tables and rows are left as they are.
    #[command(alias = "undo_adoption")]
    UndoAdoption,
    /// Print a complete, commented demonstration config file with a fresh secret.
    #[command(alias = "demo_camcops_config")]
    DemoCamcopsConfig {
        /// DB_URL to put in the file.
        #[arg(long, default_value = "sqlite://camcops.sqlite")]
        db_url: String,
    },
    /// Create a superuser (or make an existing user one) and set their password.
    #[command(alias = "make_superuser")]
    MakeSuperuser {
        /// Username.
        #[arg(long)]
        username: String,
        /// Password (prompted for when omitted).
        #[arg(long)]
        password: Option<String>,
    },
    /// Set a user's password, unlock the account and end the user's sessions.
    #[command(alias = "reset_password")]
    ResetPassword {
        /// Username.
        #[arg(long)]
        username: String,
        /// New password (prompted for when omitted).
        #[arg(long)]
        password: Option<String>,
    },
    /// Unlock an account locked by failed logins.
    #[command(alias = "enable_user")]
    EnableUser {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Delete expired sessions and their task filters, orphan filters and ended lockouts.
    Housekeeping,
    /// Send a test e-mail with the EMAIL_* settings (proves them; exits non-zero with the reason).
    #[command(alias = "send_test_email")]
    SendTestEmail {
        /// Recipient address.
        #[arg(long)]
        to: String,
    },
    /// Fill the database with demonstration groups, users, devices, patients and tasks.
    #[command(alias = "demo_data")]
    DemoData {
        /// Number of patients.
        #[arg(long, default_value_t = 2000)]
        patients: u32,
        /// Number of tasks (task index rows).
        #[arg(long, default_value_t = 50_000)]
        tasks: u32,
        /// Seed of the generator (same seed, same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Run a demonstration server on an embedded SQLite file; needs no config file.
    Demo {
        /// SQLite file (created, migrated and seeded on first run; reused after).
        #[arg(long, default_value = "camcops-demo.sqlite")]
        db: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on.
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn snake_case_aliases_and_global_config_parse() {
        let c = Cli::try_parse_from(["camcops-web", "upgrade_db", "--config", "x.conf"]).unwrap();
        assert!(matches!(c.command, Command::UpgradeDb));
        assert_eq!(c.config.unwrap(), PathBuf::from("x.conf"));
        let c = Cli::try_parse_from([
            "camcops-web",
            "--config",
            "y.conf",
            "make-superuser",
            "--username",
            "a",
        ])
        .unwrap();
        assert!(matches!(c.command, Command::MakeSuperuser { .. }));
        assert!(Cli::try_parse_from(["camcops-web", "enable-user"]).is_err());
    }
}
