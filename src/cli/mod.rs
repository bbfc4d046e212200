//! The command line: what each command does ([`run_offline`] for every command but `serve`
//! and `demo`, [`prepare_demo`] for `demo`). The clap definitions are in `args`.

mod args;

use anyhow::{bail, Context};

pub use args::{Cli, Command};

use crate::auth::{login::valid_username, password, user_commands};
use crate::clock::Clock;
use crate::config::{self, Settings};
use crate::db::{self, DbConnection, DbUrl};
use crate::messaging::Headers;
use crate::session::{housekeeping, SessionPolicy};

/// Reads the settings from `--config` or `CAMCOPS_CONFIG_FILE`.
pub fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let path = config::config_path(cli.config.as_deref())?;
    Ok(Settings::load(&path)?)
}

/// One connection to the configured database.
pub fn connect(url: &DbUrl) -> anyhow::Result<DbConnection> {
    DbConnection::open(url)
        .with_context(|| format!("cannot connect to the {} database", url.backend))
}

fn connect_migrated(url: &DbUrl) -> anyhow::Result<DbConnection> {
    let mut conn = connect(url)?;
    if let Some(problem) = db::schema_problem(&mut conn)? {
        bail!("{problem}");
    }
    Ok(conn)
}

/// The password given on the command line, or read twice from the terminal; checked against
/// the rules for new passwords.
pub fn obtain_password(given: Option<String>, username: &str) -> anyhow::Result<String> {
    let pw = match given {
        Some(p) => p,
        None => {
            let a = rpassword::prompt_password(format!("New password for {username}: "))
                .context("no --password given and no terminal to prompt on")?;
            let b = rpassword::prompt_password("Again: ").context("reading password")?;
            if a != b {
                bail!("the passwords do not match");
            }
            a
        }
    };
    password::validate_new_password(&pw, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(pw)
}

fn check_username(username: &str) -> anyhow::Result<()> {
    if username == crate::models::user::USER_NAME_FOR_SYSTEM {
        bail!("the username 'system' is reserved");
    }
    if !valid_username(username) {
        bail!("invalid username {username:?}: use 1-191 letters, digits and , _ - {{ }}");
    }
    Ok(())
}

/// Runs a command that does not start the server. Returns false for `serve`.
pub fn run_offline(cli: &Cli) -> anyhow::Result<bool> {
    let now = Clock::system().now();
    match &cli.command {
        Command::Serve | Command::Demo { .. } => return Ok(false),
        Command::DemoData {
            patients,
            tasks,
            seed,
        } => {
            let settings = load_settings(cli)?;
            let mut conn = connect_migrated(&settings.db_url)?;
            let opts = crate::demo::DemoOptions {
                patients: *patients,
                tasks: *tasks,
                seed: *seed,
                bcrypt_cost: settings.bcrypt_cost,
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let report = crate::demo::seed_demo_data(&mut conn, &opts)?;
            print_demo_report(&report);
        }
        Command::DemoCamcopsConfig { db_url } => {
            print!("{}", config::demo_config_text(db_url));
        }
        Command::UpgradeDb => {
            let settings = load_settings(cli)?;
            let mut conn = connect(&settings.db_url)?;
            match db::upgrade(&mut conn)? {
                db::Upgrade::Migrated(applied) if applied.is_empty() => {
                    println!("Database already up to date.");
                }
                db::Upgrade::Migrated(applied) => {
                    println!("Applied migrations: {}", applied.join(", "));
                }
                db::Upgrade::Adopted { revision, steps } if steps.is_empty() => {
                    println!("CamCOPS database (revision {revision}) already adopted.");
                }
                db::Upgrade::Adopted { revision, steps } => {
                    println!(
                        "Adopted the CamCOPS database (revision {revision}): applied {}.",
                        steps.join(", ")
                    );
                }
            }
            // Left as they are: reported, never fixed silently.
            for clash in db::adopt::clashes(&mut conn)? {
                eprintln!(
                    "WARNING: the database holds {clash}; camcops-web refuses new ones but \
                     leaves these as they are (rename them to tell them apart)."
                );
            }
        }
        Command::UndoAdoption => {
            let settings = load_settings(cli)?;
            let mut conn = connect(&settings.db_url)?;
            let undone = db::adopt::undo(&mut conn)?;
            if undone.is_empty() {
                println!("Nothing to undo: camcops-web has not adopted this CamCOPS database.");
            } else {
                println!("Undid the adoption steps {}.", undone.join(", "));
            }
        }
        Command::MakeSuperuser {
            username,
            password: pw,
        } => {
            check_username(username)?;
            let settings = load_settings(cli)?;
            let pw = obtain_password(pw.clone(), username)?;
            let hash = password::hash(&pw, settings.bcrypt_cost)?;
            let mut conn = connect_migrated(&settings.db_url)?;
            let (id, created) = db::transaction(&mut conn, |c| {
                Ok(user_commands::make_superuser(c, username, &hash, now)?)
            })
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if created {
                println!("Created superuser {username} (id {id}).");
            } else {
                println!("User {username} (id {id}) is now a superuser; password set.");
            }
        }
        Command::ResetPassword {
            username,
            password: pw,
        } => {
            let settings = load_settings(cli)?;
            let pw = obtain_password(pw.clone(), username)?;
            let hash = password::hash(&pw, settings.bcrypt_cost)?;
            let mut conn = connect_migrated(&settings.db_url)?;
            let r = db::transaction(&mut conn, |c| {
                Ok(user_commands::reset_password(c, username, &hash, now)?)
            })
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            match r {
                Some(ended) => println!(
                    "Password reset for {username}; account unlocked; {ended} session(s) ended."
                ),
                None => bail!("no such user: {username}"),
            }
            notify_password_reset(&settings, &mut conn, username);
        }
        Command::EnableUser { username } => {
            let settings = load_settings(cli)?;
            let mut conn = connect_migrated(&settings.db_url)?;
            let n = db::transaction(&mut conn, |c| {
                Ok(user_commands::enable_user(
                    c,
                    username,
                    now,
                    crate::models::audit::AuditSource::Console,
                    None,
                    None,
                )?)
            })
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("User {username} enabled ({n} lockout/failure rows removed).");
        }
        Command::SendTestEmail { to } => {
            let settings = load_settings(cli)?;
            send_test_email(&settings, to)?;
        }
        Command::Housekeeping => {
            let settings = load_settings(cli)?;
            let mut conn = connect_migrated(&settings.db_url)?;
            let policy = SessionPolicy::from_settings(&settings);
            let r =
                housekeeping::run(&mut conn, &policy, now).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!(
                "Deleted {} expired sessions, {} task filters, {} ended lockouts, {} failures of unknown usernames.",
                r.sessions, r.filters, r.lockouts, r.dummy_failures
            );
        }
    }
    Ok(true)
}

/// After `reset-password`: the user's security notice, sent here (no server running); a
/// failure is reported on stderr and does not fail the command (the password is changed).
fn notify_password_reset(settings: &Settings, conn: &mut DbConnection, username: &str) {
    let Some(email) = settings
        .email
        .as_ref()
        .filter(|_| settings.security_notices)
    else {
        return;
    };
    let address = match crate::models::user::User::find_by_username(conn, username) {
        Ok(Some(u)) => u.email.filter(|e| !e.trim().is_empty()),
        _ => None,
    };
    let Some(address) = address else {
        return;
    };
    let (subject, body) = crate::messaging::notice_text(
        crate::messaging::Notice::PasswordChanged { by_admin: true },
        username,
    );
    let sent = crate::messaging::smtp::Mailer::new(email)
        .map_err(|e| e.to_string())
        .and_then(|m| {
            m.send(&address, &subject, &body, Headers::WithReply)
                .map_err(|e| e.to_string())
        });
    match sent {
        Ok(()) => println!("Security notice e-mailed to {username}."),
        Err(e) => eprintln!("warning: the security notice to {username} was not sent: {e}"),
    }
}

/// `send-test-email`: one message through the configured SMTP server, within its bound.
fn send_test_email(settings: &Settings, to: &str) -> anyhow::Result<()> {
    let Some(email) = &settings.email else {
        bail!("mail is not configured: set EMAIL_HOST and EMAIL_FROM in [site]");
    };
    crate::config::check_mailbox(to)
        .map_err(|e| anyhow::anyhow!("--to {to:?} is not an e-mail address: {e}"))?;
    let mailer = crate::messaging::smtp::Mailer::new(email)?;
    let body = format!(
        "This is a test message from camcops-web.\n\nIt was sent through {}:{} ({}).\n",
        email.host,
        email.port,
        if email.implicit_tls() {
            "TLS"
        } else if email.use_tls {
            "STARTTLS"
        } else {
            "no encryption"
        }
    );
    mailer
        .send(to, "CamCOPS test e-mail", &body, Headers::WithReply)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Test e-mail sent to {to} through {}:{}.",
        email.host, email.port
    );
    Ok(())
}

fn print_demo_report(report: &crate::demo::DemoReport) {
    println!(
        "Demo data: {} patients, {} ID numbers, {} tasks, {} devices, groups {} ({:.1} s).",
        report.patients,
        report.idnums,
        report.tasks,
        report.devices,
        report.group_names.join(", "),
        report.elapsed.as_secs_f64()
    );
    println!(
        "Demo staff users (all with the password {}; shown once):",
        report.password.expose()
    );
    for (name, what) in &report.users {
        println!("  {name:<24} {what}");
    }
}

/// Username of the superuser the `demo` command (re)creates.
pub const DEMO_SUPERUSER: &str = "admin";

/// Prepares the demo: the SQLite file migrated and seeded (first run only), the superuser with
/// a fresh random password, and settings for plain-HTTP localhost. Returns settings and password.
pub fn prepare_demo(
    db: &std::path::Path,
    host: &str,
    port: u16,
) -> anyhow::Result<(Settings, String)> {
    use rand::distributions::{Alphanumeric, DistString};
    let url = DbUrl::parse(&db.to_string_lossy()).map_err(|e| anyhow::anyhow!(e))?;
    let mut conn = connect(&url)?;
    let applied = db::run_migrations(&mut conn)?;
    if !applied.is_empty() {
        println!("Created the demo database {}.", db.display());
    }
    let mut settings = Settings::with_defaults(url, config::new_session_cookie_secret());
    settings.allow_insecure_cookies = true;
    settings.host = host.to_string();
    settings.port = port;
    let tasks: i64 = {
        use diesel::prelude::*;
        crate::db::schema::_task_index::table
            .count()
            .get_result(&mut conn)?
    };
    if tasks == 0 {
        println!("Adding demo data (first run)...");
        let opts = crate::demo::DemoOptions {
            patients: 400,
            tasks: 5_000,
            seed: 1,
            bcrypt_cost: settings.bcrypt_cost,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        let report = crate::demo::seed_demo_data(&mut conn, &opts)?;
        print_demo_report(&report);
    }
    let pw = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 16);
    let hash = password::hash(&pw, settings.bcrypt_cost)?;
    let now = Clock::system().now();
    db::transaction(&mut conn, |c| {
        let (id, _) = user_commands::make_superuser(c, DEMO_SUPERUSER, &hash, now)?;
        // The demo's staff have agreed the terms of use; so has its admin.
        crate::models::user::User::set_agreed_terms(c, id, &crate::auth::terms::agreed_at(now))?;
        Ok(id)
    })
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok((settings, pw))
}
