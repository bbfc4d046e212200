//! Entry point: parse the command line, start logging, dispatch.

use clap::Parser;

use camcops_web::cli::{load_settings, prepare_demo, run_offline, Cli, Command, DEMO_SUPERUSER};
use camcops_web::startup::Application;

fn main() -> std::process::ExitCode {
    // DB_ECHO's statement lines (emitted only when it is on) show whatever RUST_LOG says.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .filter_module(camcops_web::db::echo::TARGET, log::LevelFilter::Debug)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if run_offline(&cli)? {
        return Ok(());
    }
    let settings = match &cli.command {
        Command::Demo { db, host, port } => {
            let (settings, password) = prepare_demo(db, host, *port)?;
            println!();
            println!("CamCOPS web demo: http://{host}:{port}/");
            println!("Log in as '{DEMO_SUPERUSER}' with the password: {password}");
            println!(
                "(A new password is made each time the demo starts. Ctrl-C stops the server.)"
            );
            println!(
                "Cookies are sent without the Secure flag here: use this only on your own machine."
            );
            settings
        }
        _ => load_settings(&cli)?,
    };
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        log::info!("listening (port {})", app.port);
        app.run_until_stopped().await?;
        Ok(())
    })
}
