//! Entry point: parse the command line, start logging, dispatch.

use clap::Parser;

use camcops_web::cli::{load_settings, run_offline, Cli};
use camcops_web::startup::Application;

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
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
    let settings = load_settings(&cli)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run_until_stopped().await?;
        Ok(())
    })
}
