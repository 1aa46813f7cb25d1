//! Reaching the key database: never a new SQLite file by accident, and the key prefix and
//! declared scopes the service recorded there.

use std::path::PathBuf;
use std::str::FromStr;

use keygate::scope::DeclaredScope;
use keygate::{KeyGate, SqlStore};
use sqlx::sqlite::SqliteConnectOptions;

use crate::Failure;
use crate::args::GlobalOptions;

/// The database named on the command line, with the settings to read its keys. Nothing is
/// opened until a command has checked its own arguments.
pub(crate) struct Database {
    url: String,
    pepper: Option<String>,
    prefix: Option<String>,
    max_lifetime: Option<std::time::Duration>,
}

/// What a command does with key text, which decides whether it needs the real key prefix.
pub(crate) enum KeyText {
    /// Mints or parses keys (create, rotate, verify): the prefix must be the service's.
    Handled,
    /// Reads or changes records by key id only (list, show, revoke).
    Untouched,
}

/// What `keygate init` found and did.
pub(crate) struct Initialised {
    /// The SQLite file, for a SQLite database kept in a file.
    pub(crate) file: Option<PathBuf>,
    /// Whether that file was created just now.
    pub(crate) created: bool,
    /// The key prefix the database records, if any.
    pub(crate) prefix: Option<String>,
}

impl Database {
    /// The database the options name, with the pepper read from its environment variable.
    pub(crate) fn from_options(options: GlobalOptions) -> Result<Database, Failure> {
        let Some(url) = options.database_url.filter(|url| !url.is_empty()) else {
            return Err(Failure::new(
                "no database: pass --database-url or set KEYGATE_DATABASE_URL",
            ));
        };
        let pepper = match &options.pepper_env {
            Some(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Some(value),
                _ => {
                    return Err(Failure::new(format!(
                        "--pepper-env: the environment variable {name} is not set"
                    )));
                }
            },
            None => None,
        };
        let max_lifetime = options
            .max_lifetime
            .filter(|text| !text.is_empty())
            .map(|text| keygate::duration::parse_duration(&text))
            .transpose()
            .map_err(|e| Failure::new(format!("--max-lifetime: {e}")))?;
        Ok(Database {
            url,
            pepper,
            prefix: options.prefix,
            max_lifetime,
        })
    }

    /// Creates the database if it is missing, brings its schema up to date, and records the key
    /// prefix given with `--prefix`.
    pub(crate) async fn initialise(&self) -> Result<Initialised, Failure> {
        let file = self.sqlite_file();
        let existed = file.as_ref().is_some_and(|path| path.exists());
        let store = SqlStore::connect(&self.url).await?;
        let prefix = match self.prefix.as_deref() {
            Some(_) => Some(self.resolve_prefix(&store).await?),
            None => store.key_prefix().await?,
        };
        store.close().await;
        Ok(Initialised {
            created: file.is_some() && !existed,
            file,
            prefix,
        })
    }

    /// A gate on the existing database, with the service's declared scopes and pepper.
    pub(crate) async fn gate(&self, key_text: KeyText) -> Result<KeyGate, Failure> {
        let store = self.connect_existing().await?;
        let prefix = match key_text {
            KeyText::Handled => self.resolve_prefix(&store).await?,
            // Records are found by key id; the prefix is never used, so any valid one will do.
            KeyText::Untouched => "kg".to_owned(),
        };
        let declared = store.declared_scopes().await?.map(leak_declared);
        let mut builder = KeyGate::builder().prefix(&prefix).store(store);
        if let Some(declared) = declared {
            builder = builder.declared_scopes(declared);
        }
        if let Some(pepper) = &self.pepper {
            builder = builder.pepper(pepper);
        }
        if let Some(max) = self.max_lifetime {
            builder = builder.max_key_lifetime(max);
        }
        Ok(builder.try_build()?)
    }

    /// Connects, refusing a SQLite file that does not exist: connecting would create an empty
    /// database there, and a mistyped path would then look like a database without keys.
    async fn connect_existing(&self) -> Result<SqlStore, Failure> {
        if let Some(path) = self.sqlite_file().filter(|path| !path.exists()) {
            return Err(Failure::new(format!(
                "no key database at `{}`; run `keygate init` to create one, or check \
                 --database-url",
                path.display()
            )));
        }
        Ok(SqlStore::connect(&self.url).await?)
    }

    /// The file of a SQLite database, read from the URL as `SqlStore` reads it. `None` for an
    /// in-memory database, another kind of database, or a URL `SqlStore` will refuse anyway.
    fn sqlite_file(&self) -> Option<PathBuf> {
        let is_sqlite = self.url.split(':').next() == Some("sqlite");
        let in_memory = self.url.contains(":memory:") || self.url.contains("mode=memory");
        if !is_sqlite || in_memory {
            return None;
        }
        let options = SqliteConnectOptions::from_str(&self.url).ok()?;
        Some(options.get_filename().to_owned())
    }

    /// The prefix to mint and parse keys with: the one the database records (which the service
    /// claimed), or `--prefix`, which is then recorded. Both given and different is an error.
    async fn resolve_prefix(&self, store: &SqlStore) -> Result<String, Failure> {
        let recorded = store.key_prefix().await?;
        match (recorded, self.prefix.as_deref()) {
            (Some(recorded), Some(given)) if recorded != given => Err(Failure::new(format!(
                "--prefix {given} differs from the prefix this database's keys use ({recorded})"
            ))),
            (Some(recorded), _) => Ok(recorded),
            (None, Some(given)) => {
                KeyGate::builder().prefix(given).try_build()?;
                Ok(store.claim_key_prefix(given).await?)
            }
            (None, None) => Err(Failure::new(
                "this database records no key prefix yet; pass --prefix (the one your service uses)",
            )),
        }
    }
}

/// The service's declared scopes as the gate takes them. The command runs once and exits, so
/// leaking these few strings for `'static` costs nothing.
fn leak_declared(pairs: Vec<(String, String)>) -> &'static [DeclaredScope] {
    let scopes: Vec<DeclaredScope> = pairs
        .into_iter()
        .map(|(name, description)| {
            DeclaredScope::new(
                Box::leak(name.into_boxed_str()),
                Box::leak(description.into_boxed_str()),
            )
        })
        .collect();
    Box::leak(scopes.into_boxed_slice())
}
