//! The `gradebook` command: `serve`, `migrate`, `openapi`.

use std::path::PathBuf;
use std::process::ExitCode;

use actix_web::HttpServer;
use clap::{Parser, Subcommand};
use persistence::{Pool, demo, migrations};

use crate::auth::KeySet;
use crate::config::{Settings, Sources};
use crate::{AppState, build_app, openapi, password, telemetry};

#[derive(Debug, Parser)]
#[command(name = "gradebook", version, about = "The school e-journal server", long_about = None)]
pub struct Cli {
    /// A TOML configuration file (layered over the defaults, under APP__* variables).
    #[arg(long, global = true, env = "APP_CONFIG_FILE", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve the API (DATABASE_URL selects the database).
    Serve {
        /// Load the synthetic demo school and its demo accounts (never in production).
        #[arg(long)]
        demo: bool,
        /// Address and port to listen on (overrides server.bind).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Create a new token-signing key <DIR>/<KID>.pem (Ed25519) for auth.keys_dir.
    Keygen {
        /// The folder of keys (auth.keys_dir).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The key id; becomes auth.active_key_id once you switch to it.
        #[arg(long, value_name = "KID")]
        kid: String,
    },
    /// Print the OpenAPI document (the committed contract is openapi/openapi.json).
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// A failure that ends the program with one line on standard error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Database(#[from] persistence::PersistenceError),
    #[error("{0}")]
    Io(String),
}

impl StartError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Config(_) => ExitCode::from(2),
            Self::Database(_) | Self::Io(_) => ExitCode::from(1),
        }
    }
}

/// Runs the command line; every failure is one line naming what to fix.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gradebook: {err}");
            err.exit_code()
        }
    }
}

fn load_settings(cli: &Cli, bind: Option<String>) -> Result<Settings, StartError> {
    Ok(Settings::load(&Sources {
        file: cli.config.as_deref(),
        env: std::env::vars().collect(),
        bind,
    })?)
}

/// Dispatches a parsed command line.
///
/// # Errors
/// A configuration, database or I/O failure.
pub fn run(cli: Cli) -> Result<(), StartError> {
    match &cli.command {
        Command::Openapi { output } => {
            let json = openapi::document_json().map_err(|e| StartError::Io(e.to_string()))?;
            match output {
                Some(path) => std::fs::write(path, json)
                    .map_err(|e| StartError::Io(format!("cannot write {}: {e}", path.display())))?,
                None => print!("{json}"),
            }
            Ok(())
        }
        Command::Keygen { dir, kid } => {
            let path = crate::auth::keys::write_new_key(dir, kid).map_err(StartError::Io)?;
            println!(
                "wrote {}: set APP__AUTH__KEYS_DIR={} APP__AUTH__ACTIVE_KEY_ID={kid}",
                path.display(),
                dir.display()
            );
            Ok(())
        }
        Command::Migrate => {
            let settings = load_settings(&cli, None)?;
            telemetry::init(&settings.log);
            migrate(&settings)
        }
        Command::Serve { demo, bind } => {
            let settings = load_settings(&cli, bind.clone())?;
            telemetry::init(&settings.log);
            let keys = signing_keys(&settings, *demo)?;
            let pool = connect_and_migrate(&settings)?;
            if *demo {
                load_demo(&pool)?;
            }
            actix_web::rt::System::new().block_on(serve(settings, pool, keys))
        }
    }
}

/// Connects (reporting the driver's own error) and applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub fn connect_and_migrate(settings: &Settings) -> Result<Pool, StartError> {
    migrate(settings)?;
    let url = settings.database_url()?;
    Ok(persistence::connection::connect_pool(
        &url,
        settings.pool_options(),
    )?)
}

/// Applies pending migrations over one direct connection (no pool: a pool's background threads
/// may still be opening a connection when `gradebook migrate` exits, which crashed libpq).
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub fn migrate(settings: &Settings) -> Result<(), StartError> {
    let url = settings.database_url()?;
    let mut conn = persistence::connection::connect_one(&url, settings.pool_options())?;
    let applied = migrations::run_pending(&mut conn)?;
    tracing::info!(database = %url.redacted(), applied = applied.len(), "database migrated");
    Ok(())
}

/// The token-signing keys: from `auth.keys_dir`, or (demo mode only) a fresh in-memory key.
fn signing_keys(settings: &Settings, demo: bool) -> Result<KeySet, StartError> {
    match (&settings.auth.keys_dir, &settings.auth.active_key_id) {
        (Some(dir), Some(kid)) => KeySet::load(std::path::Path::new(dir), kid)
            .map_err(|e| StartError::Config(crate::config::ConfigError(e))),
        _ if demo => {
            tracing::warn!("demo mode: signing tokens with a key generated for this run only");
            Ok(KeySet::generate("demo"))
        }
        _ => Err(StartError::Config(crate::config::ConfigError(
            "auth.keys_dir is not set: create a key with `gradebook keygen --dir keys --kid k1`, then set \
             APP__AUTH__KEYS_DIR=keys and APP__AUTH__ACTIVE_KEY_ID=k1"
                .into(),
        ))),
    }
}

fn load_demo(pool: &Pool) -> Result<(), StartError> {
    eprintln!(
        "\n==================================================================\n\
         DEMO MODE: a synthetic demo school with demo accounts is loaded.\n\
         Logins demo-admin, demo-teacher, demo-parent, demo-student,\n\
         password `{}`. NEVER run --demo with real data.\n\
         ==================================================================\n",
        demo::DEMO_PASSWORD
    );
    tracing::warn!("demo mode: demo accounts with a public password are active");
    let mut conn = pool.get().map_err(persistence::PersistenceError::from)?;
    let now = chrono::Utc::now().naive_utc();
    let summary = demo::seed(&mut conn, now, &|pw| password::hash(pw).unwrap_or_default())?;
    tracing::info!(school_id = %summary.school, created = summary.created, "demo school ready");
    Ok(())
}

async fn serve(settings: Settings, pool: Pool, keys: KeySet) -> Result<(), StartError> {
    let addr = settings.bind_addr()?;
    let state = AppState::new(pool, settings.clone(), keys);
    let mut server = HttpServer::new(move || build_app(state.clone()))
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .client_request_timeout(std::time::Duration::from_secs(
            settings.server.request_timeout_secs,
        ))
        .client_disconnect_timeout(std::time::Duration::from_secs(5));
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let server = server.bind(addr).map_err(|e| {
        StartError::Io(format!(
            "cannot listen on {addr}: {e} (set --bind or APP__SERVER__BIND)"
        ))
    })?;
    for bound in server.addrs() {
        println!(
            "listening on http://{bound} — API docs at http://{bound}/docs/ , contract at http://{bound}/openapi.json"
        );
    }
    tracing::info!("server started");
    server
        .run()
        .await
        .map_err(|e| StartError::Io(e.to_string()))?;
    tracing::info!("server stopped");
    Ok(())
}
