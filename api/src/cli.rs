//! The `gradebook` command: `serve`, `migrate`, `keygen`, `add-school`, `add-admin`, `openapi`.

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
    /// Check that every school's running sums (behind averages and ranks) equal a full
    /// recomputation from the grades; exit 1 naming each difference.
    CheckSums,
    /// Create a new token-signing key <DIR>/<KID>.pem (Ed25519) for auth.keys_dir.
    Keygen {
        /// The folder of keys (auth.keys_dir).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The key id; becomes auth.active_key_id once you switch to it.
        #[arg(long, value_name = "KID")]
        kid: String,
    },
    /// Create a school (and its municipality, when named instead of given by id).
    AddSchool {
        /// The school's name.
        #[arg(long)]
        name: String,
        /// An existing municipality's id.
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "municipality_name",
            required_unless_present = "municipality_name"
        )]
        municipality: Option<i64>,
        /// Create a new municipality with this name.
        #[arg(long, value_name = "NAME")]
        municipality_name: Option<String>,
        /// The school's id in the regional roster system.
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
    },
    /// Create the first administrator of a school (prints a one-time activation code) or of a
    /// municipality (reads the password from standard input).
    AddAdmin {
        /// The school to administer.
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "municipality",
            required_unless_present = "municipality"
        )]
        school: Option<i64>,
        /// The municipality to administer.
        #[arg(long, value_name = "ID")]
        municipality: Option<i64>,
        /// The login.
        #[arg(long)]
        login: String,
        /// The name others see.
        #[arg(long)]
        name: String,
    },
    /// Send queued push notifications until stopped (SIGTERM/SIGINT), beside or instead of the
    /// servers' own dispatchers; needs a push.service_account_key_* setting.
    Dispatch,
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
    #[error("{0}")]
    Inconsistent(String),
}

impl StartError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Config(_) => ExitCode::from(2),
            Self::Database(_) | Self::Io(_) | Self::Inconsistent(_) => ExitCode::from(1),
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
        Command::CheckSums => {
            let settings = load_settings(&cli, None)?;
            telemetry::init(&settings.log);
            check_sums(&settings)
        }
        Command::AddSchool {
            name,
            municipality,
            municipality_name,
            external_id,
        } => {
            let settings = load_settings(&cli, None)?;
            telemetry::init(&settings.log);
            let mut conn = migrated_connection(&settings)?;
            let municipality = match (municipality, municipality_name) {
                (Some(id), _) => domain::MunicipalityId(*id),
                (None, Some(name)) => persistence::schools::insert_municipality(&mut conn, name)?,
                (None, None) => {
                    return Err(StartError::Io(
                        "give --municipality <ID> or --municipality-name <NAME>".into(),
                    ));
                }
            };
            let school = persistence::schools::insert_school(
                &mut conn,
                municipality,
                name,
                external_id.as_deref(),
            )?;
            persistence::journal::ensure_grading_defaults(&mut conn, school)?;
            println!("school {school} in municipality {municipality}");
            Ok(())
        }
        Command::AddAdmin {
            school,
            municipality,
            login,
            name,
        } => {
            let settings = load_settings(&cli, None)?;
            telemetry::init(&settings.log);
            add_admin(&settings, *school, *municipality, login, name)
        }
        Command::Dispatch => {
            let settings = load_settings(&cli, None)?;
            telemetry::init(&settings.log);
            let pool = connect_and_migrate(&settings)?;
            actix_web::rt::System::new().block_on(dispatch(settings, pool))
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

fn check_sums(settings: &Settings) -> Result<(), StartError> {
    let mut conn = migrated_connection(settings)?;
    let ids = persistence::schools::school_ids(&mut conn)?;
    let mut differences = 0_usize;
    for id in &ids {
        for ((student, subject, term), stored, recomputed) in
            persistence::averages::inconsistencies(&mut conn, *id)?
        {
            differences += 1;
            println!(
                "school {}: student {student}, subject {subject}, term {term}: stored {stored:?}, recomputed {recomputed:?}",
                id.get()
            );
        }
    }
    if differences > 0 {
        return Err(StartError::Inconsistent(format!(
            "{differences} running sums differ from a recomputation"
        )));
    }
    println!(
        "the running sums of {} schools match a recomputation",
        ids.len()
    );
    Ok(())
}

fn migrated_connection(settings: &Settings) -> Result<persistence::DbConnection, StartError> {
    let url = settings.database_url()?;
    let mut conn = persistence::connection::connect_one(&url, settings.pool_options())?;
    migrations::run_pending(&mut conn)?;
    Ok(conn)
}

fn add_admin(
    settings: &Settings,
    school: Option<i64>,
    municipality: Option<i64>,
    login: &str,
    name: &str,
) -> Result<(), StartError> {
    use persistence::admin::{FirstAdmin, NewCode, create_first_admin};
    use persistence::audit::Owner;
    let now = chrono::Utc::now();
    let mut conn = migrated_connection(settings)?;
    let (owner, code, password_hash) = match (school, municipality) {
        (Some(school), _) => {
            let (shown, hash) = crate::auth::credentials::new_activation_code();
            let days = i64::from(settings.auth.activation_code_ttl_days);
            let expires_at = (now + chrono::Duration::days(days)).naive_utc();
            (
                Owner::School(domain::SchoolId(school)),
                Some((shown, NewCode { hash, expires_at })),
                None,
            )
        }
        (None, Some(municipality)) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| StartError::Io(format!("cannot read the password: {e}")))?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 8 {
                return Err(StartError::Io(
                    "the password (one line on standard input) must have at least 8 characters"
                        .into(),
                ));
            }
            let hash = password::hash(password).map_err(|e| StartError::Io(e.to_string()))?;
            (
                Owner::Municipality(domain::MunicipalityId(municipality)),
                None,
                Some(hash),
            )
        }
        (None, None) => return Err(StartError::Io("give --school or --municipality".into())),
    };
    let exists = match owner {
        Owner::School(id) => persistence::access::school(&mut conn, id)?.is_some(),
        Owner::Municipality(id) => persistence::access::municipality_exists(&mut conn, id)?,
    };
    if !exists {
        return Err(StartError::Io(match owner {
            Owner::School(id) => format!("there is no school {id} (see `gradebook add-school`)"),
            Owner::Municipality(id) => format!("there is no municipality {id}"),
        }));
    }
    if persistence::people::find_user_by_login(&mut conn, login)?.is_some() {
        return Err(StartError::Io(format!("the login {login:?} is taken")));
    }
    let user = create_first_admin(
        &mut conn,
        &FirstAdmin {
            login,
            display_name: name,
            owner,
            code: code.as_ref().map(|(_, c)| c.clone()),
            password_hash,
            at: now.naive_utc(),
        },
    )?;
    match code {
        Some((shown, c)) => println!(
            "administrator {user} ({login}) created; activation code {shown}, valid until {} UTC: \
             set the password with POST /api/v1/auth/activate",
            c.expires_at.format("%Y-%m-%d %H:%M")
        ),
        None => println!("administrator {user} ({login}) created; log in with the password given"),
    }
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

/// `gradebook dispatch`: a dispatcher of its own until a stop signal.
async fn dispatch(settings: Settings, pool: Pool) -> Result<(), StartError> {
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let dispatcher = crate::push::Dispatcher::from_settings(pool, &settings, wake)
        .map_err(|e| StartError::Io(format!("cannot dispatch: {e}")))?;
    let running = dispatcher.spawn();
    tracing::info!("dispatcher started");
    println!("dispatching push notifications; stop with Ctrl-C or SIGTERM");
    stop_signal().await;
    running.stop().await;
    tracing::info!("dispatcher stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn serve(settings: Settings, pool: Pool, keys: KeySet) -> Result<(), StartError> {
    let addr = settings.bind_addr()?;
    let state = AppState::new(pool.clone(), settings.clone(), keys);
    let dispatcher =
        match crate::push::Dispatcher::from_settings(pool, &settings, state.outbox.clone()) {
            Ok(dispatcher) => {
                tracing::info!("push dispatcher started");
                Some(dispatcher.sharing_writes_with(&state).spawn())
            }
            Err(reason) => {
                tracing::warn!(%reason, "push dispatcher not started");
                None
            }
        };
    let housekeeping_state = state.clone();
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
    let housekeeping = crate::housekeeping::spawn(housekeeping_state);
    let served = server.run().await;
    housekeeping.abort();
    if let Some(dispatcher) = dispatcher {
        dispatcher.stop().await;
    }
    served.map_err(|e| StartError::Io(e.to_string()))?;
    tracing::info!("server stopped");
    Ok(())
}
