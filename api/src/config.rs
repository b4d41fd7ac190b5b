//! Configuration: a typed struct, layered as defaults → optional TOML file → `APP__SECTION__KEY`
//! environment variables (→ `DATABASE_URL`, → command-line flags), validated once at start.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use persistence::{DatabaseUrl, PoolOptions};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The default database when neither `DATABASE_URL` nor `APP__DATABASE__URL` is set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/gradebook.db";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub push: PushSettings,
    pub journal: JournalSettings,
}

/// The journal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSettings {
    /// How long the answer to a grading request is kept under its `Idempotency-Key` for
    /// retries, in days (see [`crate::housekeeping`]).
    pub answers_kept_days: u32,
}

/// Push notifications through Firebase Cloud Messaging (HTTP v1). Without a service-account
/// key the dispatcher does not run; the outbox rows are written all the same and go out once
/// a key is configured (or a `gradebook dispatch` process with one runs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    /// `false` keeps the server's own dispatcher from running even with a key.
    pub enabled: bool,
    /// The Firebase project; the key file's `project_id` when left out.
    #[serde(default)]
    pub project_id: Option<String>,
    /// A service-account key file (JSON) as the Firebase console downloads it.
    #[serde(default)]
    pub service_account_key_file: Option<String>,
    /// The same key inline (the file's JSON), e.g. from a secret store.
    #[serde(default)]
    pub service_account_key_json: Option<SecretString>,
    /// Where access tokens come from; the key's `token_uri` when left out.
    #[serde(default)]
    pub token_uri: Option<String>,
    /// The FCM API's base URL (`POST {base}/v1/projects/{project}/messages:send`).
    pub fcm_base_url: String,
    /// The safety-net poll of the outbox, in milliseconds (commits wake the dispatcher at once).
    pub poll_interval_ms: u64,
    /// Rows claimed (and sent concurrently) at a time.
    pub batch_size: u32,
    /// Batches a dispatcher may have in flight at once: a lane that claims a full batch wakes
    /// another, so a backlog is worked off in parallel.
    pub lanes: u32,
    /// Attempts before a notification is recorded as failed.
    pub max_attempts: u32,
    /// The first retry's delay, in milliseconds; doubles per attempt, with jitter.
    pub backoff_initial_ms: u64,
    /// The longest retry delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// How long a dispatcher holds claimed rows before another may take them, in seconds.
    pub lease_secs: u64,
    /// Timeout of one HTTP request to FCM or the token endpoint, in seconds.
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The `iss` of every token.
    pub issuer: String,
    /// The `aud` of every token.
    pub audience: String,
    /// Lifetime of an access token, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// Clock skew tolerated when checking `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// A folder of Ed25519 private keys, one `<kid>.pem` (PKCS#8) each; every key in it is
    /// accepted for verification, so keys rotate without logging anyone out.
    #[serde(default)]
    pub keys_dir: Option<String>,
    /// The `kid` that signs new tokens (a file `<kid>.pem` in `keys_dir`).
    #[serde(default)]
    pub active_key_id: Option<String>,
    /// Failed logins (per login and per address) before further attempts are refused for a while.
    pub login_max_failures: u32,
    /// How long a throttled login or address waits, in seconds (doubles with each further failure).
    pub login_lockout_secs: u64,
    /// How long an activation code the administration hands out stays valid, in days.
    pub activation_code_ttl_days: u32,
    /// How long a link code a person issues for their own account stays valid, in hours.
    pub link_code_ttl_hours: u32,
    /// Lifetime of an integrator's access token (client-credentials grant), in seconds.
    pub integrator_token_ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub bind: String,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// How long a client may take to send its request head, in seconds, and then its body
    /// (a second more for every 16 KiB it declares; see `crate::body_deadline`).
    pub request_timeout_secs: u64,
    /// How long running requests may finish after a stop signal, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://...` or `sqlite://path/to/file.db`.
    pub url: SecretString,
    pub pool_max_size: u32,
    /// How long a request waits for a free connection before it gets 503, in milliseconds.
    pub acquire_timeout_ms: u64,
    /// SQLite only: how long a writer waits for the write lock, in milliseconds.
    pub sqlite_busy_timeout_ms: u64,
    /// PostgreSQL only: write transactions of this process at once (the others queue, see
    /// [`crate::write_queue`]); SQLite always writes one at a time.
    pub write_concurrency: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `info,api=debug`; `RUST_LOG` overrides it.
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A setting that cannot be used, with the key at fault and what to do.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Where the layers come from; tests pass their own environment.
#[derive(Debug, Default, Clone)]
pub struct Sources<'a> {
    pub file: Option<&'a Path>,
    /// Environment variables (normally `std::env::vars()`).
    pub env: Vec<(String, String)>,
    /// `--bind` from the command line.
    pub bind: Option<String>,
}

impl Settings {
    /// Loads and validates the layered configuration.
    ///
    /// # Errors
    /// One message naming the setting at fault.
    pub fn load(sources: &Sources<'_>) -> Result<Self, ConfigError> {
        let mut builder = Config::builder();
        for (key, value) in DEFAULTS {
            builder = builder
                .set_default(*key, *value)
                .map_err(|e| ConfigError(e.to_string()))?;
        }
        if let Some(path) = sources.file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let app_env = sources
            .env
            .iter()
            .filter(|(k, _)| k.starts_with("APP__"))
            .cloned()
            .collect::<std::collections::HashMap<_, _>>();
        builder = builder.add_source(
            Environment::with_prefix("APP")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(app_env)),
        );
        let database_url = sources
            .env
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .map(|(_, v)| v.clone());
        builder = builder
            .set_override_option("database.url", database_url)
            .and_then(|b| b.set_override_option("server.bind", sources.bind.clone()))
            .map_err(|e| ConfigError(e.to_string()))?;
        let settings: Self = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.bind_addr()?;
        self.database_url()?;
        if !(1..=1000).contains(&self.database.pool_max_size) {
            return Err(ConfigError(format!(
                "database.pool_max_size must be between 1 and 1000, got {}",
                self.database.pool_max_size
            )));
        }
        if !(1..=3650).contains(&self.journal.answers_kept_days) {
            return Err(ConfigError(format!(
                "journal.answers_kept_days must be between 1 and 3650, got {}",
                self.journal.answers_kept_days
            )));
        }
        if !(1..=1000).contains(&self.database.write_concurrency) {
            return Err(ConfigError(format!(
                "database.write_concurrency must be between 1 and 1000, got {}",
                self.database.write_concurrency
            )));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(ConfigError(format!(
                "server.body_limit_bytes must be at least 1024, got {}",
                self.server.body_limit_bytes
            )));
        }
        if self.server.request_timeout_secs == 0 {
            return Err(ConfigError(
                "server.request_timeout_secs must be at least 1".into(),
            ));
        }
        if self.auth.access_token_ttl_secs < 60 || self.auth.access_token_ttl_secs > 86_400 {
            return Err(ConfigError(format!(
                "auth.access_token_ttl_secs must be between 60 and 86400, got {}",
                self.auth.access_token_ttl_secs
            )));
        }
        if self.auth.refresh_token_ttl_secs <= self.auth.access_token_ttl_secs {
            return Err(ConfigError(
                "auth.refresh_token_ttl_secs must be longer than the access token's".into(),
            ));
        }
        if !(1..=365).contains(&self.auth.activation_code_ttl_days) {
            return Err(ConfigError(format!(
                "auth.activation_code_ttl_days must be between 1 and 365, got {}",
                self.auth.activation_code_ttl_days
            )));
        }
        if !(1..=720).contains(&self.auth.link_code_ttl_hours) {
            return Err(ConfigError(format!(
                "auth.link_code_ttl_hours must be between 1 and 720, got {}",
                self.auth.link_code_ttl_hours
            )));
        }
        if self.auth.integrator_token_ttl_secs < 60 || self.auth.integrator_token_ttl_secs > 86_400
        {
            return Err(ConfigError(format!(
                "auth.integrator_token_ttl_secs must be between 60 and 86400, got {}",
                self.auth.integrator_token_ttl_secs
            )));
        }
        if self.auth.keys_dir.is_some() != self.auth.active_key_id.is_some() {
            return Err(ConfigError(
                "auth.keys_dir and auth.active_key_id are set together".into(),
            ));
        }
        self.validate_push()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.filter).map_err(|e| {
            ConfigError(format!(
                "log.filter `{}` is not a valid filter: {e}",
                self.log.filter
            ))
        })?;
        Ok(())
    }

    fn validate_push(&self) -> Result<(), ConfigError> {
        let push = &self.push;
        let positive = [
            ("push.poll_interval_ms", push.poll_interval_ms),
            ("push.batch_size", u64::from(push.batch_size)),
            ("push.lanes", u64::from(push.lanes)),
            ("push.max_attempts", u64::from(push.max_attempts)),
            ("push.backoff_initial_ms", push.backoff_initial_ms),
            ("push.lease_secs", push.lease_secs),
            ("push.request_timeout_secs", push.request_timeout_secs),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError(format!("{key} must be at least 1")));
        }
        if push.batch_size > 500 {
            return Err(ConfigError(format!(
                "push.batch_size must be at most 500, got {}",
                push.batch_size
            )));
        }
        if push.lanes > 32 {
            return Err(ConfigError(format!(
                "push.lanes must be at most 32, got {}",
                push.lanes
            )));
        }
        if push.backoff_max_ms < push.backoff_initial_ms {
            return Err(ConfigError(
                "push.backoff_max_ms must be at least push.backoff_initial_ms".into(),
            ));
        }
        if push.lease_secs <= 2 * push.request_timeout_secs {
            return Err(ConfigError(
                "push.lease_secs must be more than twice push.request_timeout_secs (a claimed \
                 notification must be sent before another dispatcher may take it)"
                    .into(),
            ));
        }
        for (key, url) in [
            ("push.fcm_base_url", Some(push.fcm_base_url.as_str())),
            ("push.token_uri", push.token_uri.as_deref()),
        ] {
            if let Some(url) = url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(ConfigError(format!("{key} `{url}` is not an http(s) URL")));
            }
        }
        crate::push::Credentials::from_settings(push)?;
        Ok(())
    }

    /// # Errors
    /// When `server.bind` is not an `address:port`.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|_| {
            ConfigError(format!(
                "server.bind `{}` is not an address and port like 127.0.0.1:8080",
                self.server.bind
            ))
        })
    }

    /// # Errors
    /// When the database URL has an unknown scheme or no path.
    pub fn database_url(&self) -> Result<DatabaseUrl, ConfigError> {
        DatabaseUrl::parse(self.database.url.expose_secret())
            .map_err(|e| ConfigError(format!("database.url (DATABASE_URL): {e}")))
    }

    #[must_use]
    pub fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_size: self.database.pool_max_size,
            acquire_timeout: Duration::from_millis(self.database.acquire_timeout_ms),
            sqlite_busy_timeout: Duration::from_millis(self.database.sqlite_busy_timeout_ms),
        }
    }
}

/// The defaults, one line per setting (the README's configuration table lists the same).
pub const DEFAULTS: &[(&str, &str)] = &[
    ("server.bind", "127.0.0.1:8080"),
    ("server.body_limit_bytes", "262144"),
    ("server.request_timeout_secs", "10"),
    ("server.shutdown_timeout_secs", "30"),
    ("server.workers", "0"),
    ("database.url", DEFAULT_DATABASE_URL),
    ("database.pool_max_size", "10"),
    ("database.acquire_timeout_ms", "5000"),
    ("database.sqlite_busy_timeout_ms", "5000"),
    ("database.write_concurrency", "4"),
    ("auth.issuer", "gradebook"),
    ("auth.audience", "gradebook-api"),
    ("auth.access_token_ttl_secs", "900"),
    ("auth.refresh_token_ttl_secs", "2592000"),
    ("auth.leeway_secs", "30"),
    ("auth.login_max_failures", "5"),
    ("auth.login_lockout_secs", "30"),
    ("auth.activation_code_ttl_days", "30"),
    ("auth.link_code_ttl_hours", "72"),
    ("auth.integrator_token_ttl_secs", "3600"),
    ("push.enabled", "true"),
    ("push.fcm_base_url", "https://fcm.googleapis.com"),
    ("push.poll_interval_ms", "1000"),
    ("push.batch_size", "100"),
    ("push.lanes", "4"),
    ("push.max_attempts", "12"),
    ("push.backoff_initial_ms", "1000"),
    ("push.backoff_max_ms", "3600000"),
    ("push.lease_secs", "60"),
    ("push.request_timeout_secs", "10"),
    ("log.filter", "info"),
    ("log.format", "pretty"),
    ("journal.answers_kept_days", "14"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn load(
        env: &[(&str, &str)],
        file: Option<&Path>,
        bind: Option<&str>,
    ) -> Result<Settings, ConfigError> {
        Settings::load(&Sources {
            file,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            bind: bind.map(str::to_owned),
        })
    }

    fn message(result: Result<Settings, ConfigError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn defaults_serve_sqlite_on_localhost_8080() {
        let s = load(&[], None, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(
            s.database_url().ok(),
            DatabaseUrl::parse(DEFAULT_DATABASE_URL).ok()
        );
        assert_eq!(s.log.format, LogFormat::Pretty);
    }

    #[test]
    fn layers_apply_in_order_file_then_env_then_database_url_then_flags() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("gradebook.toml");
        std::fs::write(
            &path,
            "[server]\nbind = \"127.0.0.1:9000\"\nworkers = 3\n[database]\npool_max_size = 4\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let s = load(&[("APP__DATABASE__POOL_MAX_SIZE", "7")], Some(&path), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                s.server.bind.as_str(),
                s.server.workers,
                s.database.pool_max_size
            ),
            ("127.0.0.1:9000", 3, 7)
        );

        let s = load(
            &[
                ("APP__DATABASE__URL", "sqlite://a.db"),
                ("DATABASE_URL", "postgres://u@h/db"),
            ],
            Some(&path),
            Some("0.0.0.0:1234"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.database.url.expose_secret(), "postgres://u@h/db");
        assert_eq!(s.server.bind, "0.0.0.0:1234");
    }

    #[test]
    fn bad_settings_name_the_key() {
        assert!(
            message(load(&[("DATABASE_URL", "mysql://x")], None, None)).contains("database.url")
        );
        assert!(
            message(load(&[("APP__SERVER__BIND", "localhost")], None, None))
                .contains("server.bind")
        );
        assert!(
            message(load(&[("APP__DATABASE__POOL_MAX_SIZE", "0")], None, None))
                .contains("pool_max_size")
        );
        assert!(
            message(load(
                &[("APP__SERVER__BODY_LIMIT_BYTES", "ten")],
                None,
                None
            ))
            .contains("body_limit_bytes")
        );
        assert!(
            message(load(&[("APP__AUTH__LINK_CODE_TTL_HOURS", "0")], None, None))
                .contains("auth.link_code_ttl_hours")
        );
        assert!(message(load(&[("APP__LOG__FORMAT", "xml")], None, None)).contains("xml"));
        assert!(message(load(&[("APP__SERVER__COLOUR", "red")], None, None)).contains("colour"));
        assert!(
            message(load(&[], Some(Path::new("/nonexistent/x.toml")), None))
                .contains("does not exist")
        );
    }

    #[test]
    fn the_database_password_is_not_printed_by_debug() {
        let s = load(
            &[("DATABASE_URL", "postgres://u:topsecret@h/db")],
            None,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
