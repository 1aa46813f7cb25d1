//! `keygate`: issue, list, show, rotate, revoke and verify API keys in a keygate database.
//!
//! ```text
//! keygate keys create --name ci-deploy --owner team-infra --scopes items:read,items:write --expires-in 90d
//! keygate keys list [--owner X] [--all] [--json]
//! keygate keys show <KEY_ID>
//! keygate keys revoke <KEY_ID>
//! keygate keys rotate <KEY_ID> --grace 24h
//! keygate keys verify            # reads a key on stdin
//! ```

#![forbid(unsafe_code)]

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use keygate::duration::parse_duration;
use keygate::record::{KeyFilter, KeyState};
use keygate::scope::DeclaredScope;
use keygate::{KeyGate, KeyRecord, NewKey, SqlStore};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Issue, list, show, rotate, revoke and verify keygate API keys.
#[derive(Debug, Parser)]
#[command(name = "keygate", version)]
struct Cli {
    /// The key database: sqlite://path/to/keys.db or postgres://user@host/db.
    #[arg(
        long,
        env = "KEYGATE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// The name of the environment variable holding the service's pepper, if it uses one.
    #[arg(long, value_name = "NAME", global = true)]
    pepper_env: Option<String>,
    /// The key prefix. Default: the one recorded in the database by the service.
    #[arg(long, global = true)]
    prefix: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage API keys.
    #[command(subcommand)]
    Keys(Keys),
}

#[derive(Debug, Subcommand)]
enum Keys {
    /// Create a key and print it once.
    Create(Create),
    /// List keys (active ones unless --all). Never prints secrets.
    List {
        /// Only keys held by this owner.
        #[arg(long)]
        owner: Option<String>,
        /// Include revoked and expired keys.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one key's record.
    Show {
        /// The public key id.
        key_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key, at once and for good.
    Revoke {
        /// The public key id.
        key_id: String,
    },
    /// Replace a key: print a new one; the old one keeps working for the grace period.
    Rotate {
        /// The public key id.
        key_id: String,
        /// How long the old key keeps working, such as 24h. Default: it stops now.
        #[arg(long, allow_hyphen_values = true)]
        grace: Option<String>,
    },
    /// Read a key on stdin and say whether it is valid, with its key id and scopes.
    Verify,
}

#[derive(Debug, Args)]
struct Create {
    /// A name for the key, such as ci-deploy.
    #[arg(long)]
    name: String,
    /// Who holds it, such as team-infra.
    #[arg(long, default_value = "")]
    owner: String,
    /// Granted scopes, comma-separated; an entry may end in `*`.
    #[arg(long, value_delimiter = ',')]
    scopes: Vec<String>,
    /// How long the key lives: 30m, 24h, 90d, 2w. Default: until revoked.
    #[arg(long, allow_hyphen_values = true)]
    expires_in: Option<String>,
}

/// A failure, printed as one line.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // clap's message without the usage block, on one line.
            let text = error.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|line| !line.starts_with("Usage:"))
                .map(|line| line.trim())
                .filter(|line| !line.is_empty())
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("keygate: error: {message} (see keygate --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start: {error}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(Failure(message)) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    // One line, whatever the error said.
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("keygate: error: {line}");
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let Some(url) = cli.database_url.as_deref().filter(|u| !u.is_empty()) else {
        return Err(Failure(
            "no database: pass --database-url or set KEYGATE_DATABASE_URL".into(),
        ));
    };
    let pepper = match &cli.pepper_env {
        Some(name) => match std::env::var(name) {
            Ok(value) if !value.is_empty() => Some(value),
            _ => {
                return Err(Failure(format!(
                    "--pepper-env: the environment variable {name} is not set"
                )));
            }
        },
        None => None,
    };
    // Validate what can be validated before touching the database.
    let expires_in = match &cli.command {
        Command::Keys(Keys::Create(create)) => create
            .expires_in
            .as_deref()
            .map(parse_duration)
            .transpose()?,
        Command::Keys(Keys::Rotate { grace, .. }) => {
            grace.as_deref().map(parse_duration).transpose()?
        }
        _ => None,
    };
    if let Command::Keys(Keys::Create(create)) = &cli.command {
        if create.name.trim().is_empty() {
            return Err(Failure("--name must not be empty".into()));
        }
        if let Some(bad) = create
            .scopes
            .iter()
            .find(|s| !keygate::scope::is_valid_grant(s))
        {
            return Err(Failure(format!(
                "invalid scope `{}`: scopes use letters, digits and `:._-` (a granted scope may end in `*`)",
                bad.escape_default()
            )));
        }
    }

    let store = SqlStore::connect(url).await?;
    let needs_prefix = matches!(
        cli.command,
        Command::Keys(Keys::Create(_) | Keys::Rotate { .. } | Keys::Verify)
    );
    let prefix = if needs_prefix {
        resolve_prefix(&store, cli.prefix.as_deref()).await?
    } else {
        "kg".to_owned()
    };
    let declared = store.declared_scopes().await?.map(leak_declared);
    let mut builder = KeyGate::builder().prefix(&prefix).store(store);
    if let Some(declared) = declared {
        builder = builder.declared_scopes(declared);
    }
    if let Some(pepper) = &pepper {
        builder = builder.pepper(pepper);
    }
    let gate = builder.try_build()?;

    let Command::Keys(keys) = cli.command;
    match keys {
        Keys::Create(create) => {
            let mut new = NewKey::new(create.name)
                .owner(create.owner)
                .scopes(create.scopes);
            if let Some(lifetime) = expires_in {
                new = new.expires_in(lifetime);
            }
            let created = gate.create_key(new).await?;
            print_created(&created.record, created.key.expose());
        }
        Keys::List { owner, all, json } => {
            let mut filter = KeyFilter::default();
            if let Some(owner) = owner {
                filter = filter.owner(owner);
            }
            if !all {
                filter = filter.state(KeyState::Active);
            }
            let records = gate.list_keys(&filter).await?;
            if json {
                let list: Vec<_> = records.iter().map(record_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&records);
            }
        }
        Keys::Show { key_id, json } => {
            let record = gate.get_key(&key_id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&record_json(&record))?);
            } else {
                print_record(&record);
            }
        }
        Keys::Revoke { key_id } => {
            let record = gate.revoke_key(&key_id).await?;
            println!("revoked {}", record.key_id);
        }
        Keys::Rotate { key_id, .. } => {
            let grace = expires_in.unwrap_or_default();
            let created = gate.rotate_key(&key_id, grace).await?;
            let old = gate.get_key(&key_id).await?;
            print_created(&created.record, created.key.expose());
            println!(
                "the old key {key_id} stops working at {}",
                when(old.expires_at)
            );
        }
        Keys::Verify => return verify(&gate).await,
    }
    Ok(ExitCode::SUCCESS)
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

/// The prefix to mint and parse keys with: the one the database records (which the service
/// claimed), or `--prefix`, which is then recorded. Both given and different is an error.
async fn resolve_prefix(store: &SqlStore, given: Option<&str>) -> Result<String, Failure> {
    let recorded = store.key_prefix().await?;
    match (recorded, given) {
        (Some(recorded), Some(given)) if recorded != given => Err(Failure(format!(
            "--prefix {given} differs from the prefix this database's keys use ({recorded})"
        ))),
        (Some(recorded), _) => Ok(recorded),
        (None, Some(given)) => {
            KeyGate::builder().prefix(given).try_build()?;
            Ok(store.claim_key_prefix(given).await?)
        }
        (None, None) => Err(Failure(
            "this database records no key prefix yet; pass --prefix (the one your service uses)"
                .into(),
        )),
    }
}

async fn verify(gate: &KeyGate) -> Result<ExitCode, Failure> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("paste the key, then press Enter and Ctrl-D:");
    }
    let mut key = String::new();
    stdin
        .by_ref()
        .take(4096)
        .read_to_string(&mut key)
        .map_err(|_| Failure("could not read a key from stdin".into()))?;
    match gate.verify(key.trim()).await {
        Ok(identity) => {
            println!("valid");
            println!("key id: {}", identity.key_id());
            println!("name:   {}", identity.name());
            println!("owner:  {}", identity.owner());
            println!("scopes: {}", identity.scopes().join(" "));
            Ok(ExitCode::SUCCESS)
        }
        Err(rejection) if rejection.kind() == &keygate::reject::RejectionKind::StoreUnavailable => {
            Err(Failure(
                "the key could not be checked: the database did not answer, or the key's hash \
                 needs the service's pepper (--pepper-env)"
                    .into(),
            ))
        }
        Err(rejection) => {
            println!("invalid ({})", rejection.kind().code());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn when(at: Option<OffsetDateTime>) -> String {
    match at {
        Some(at) => at
            .replace_nanosecond(0)
            .unwrap_or(at)
            .format(&Rfc3339)
            .unwrap_or_else(|_| at.unix_timestamp().to_string()),
        None => "never".to_owned(),
    }
}

fn print_created(record: &KeyRecord, key: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{key}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Created key {} ({}, owner {}), scopes: {}, expires: {}.",
        record.key_id,
        record.name,
        if record.owner.is_empty() {
            "-"
        } else {
            &record.owner
        },
        record.scopes.join(" "),
        when(record.expires_at)
    );
    let _ = writeln!(
        out,
        "Store the key now: it will not be shown again (only its hash is kept)."
    );
}

fn print_record(record: &KeyRecord) {
    let now = OffsetDateTime::now_utc();
    let rows = [
        ("key id", record.key_id.clone()),
        ("name", record.name.clone()),
        ("owner", record.owner.clone()),
        ("state", record.state_at(now).to_string()),
        ("scopes", record.scopes.join(" ")),
        ("created", when(Some(record.created_at))),
        ("expires", when(record.expires_at)),
        (
            "revoked",
            record.revoked_at.map_or("-".into(), |t| when(Some(t))),
        ),
        (
            "last used",
            record.last_used_at.map_or("-".into(), |t| when(Some(t))),
        ),
        (
            "rotated from",
            record.rotated_from.clone().unwrap_or("-".into()),
        ),
        (
            "rotated to",
            record.rotated_to.clone().unwrap_or("-".into()),
        ),
    ];
    for (label, value) in rows {
        println!("{:<13} {value}", format!("{label}:"));
    }
    for (key, value) in &record.metadata {
        println!("{:<13} {value}", format!("meta {key}:"));
    }
}

fn print_table(records: &[KeyRecord]) {
    if records.is_empty() {
        println!("no keys");
        return;
    }
    let now = OffsetDateTime::now_utc();
    let header = [
        "KEY ID",
        "NAME",
        "OWNER",
        "STATE",
        "SCOPES",
        "EXPIRES",
        "LAST USED",
    ];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            [
                r.key_id.clone(),
                r.name.clone(),
                r.owner.clone(),
                r.state_at(now).to_string(),
                r.scopes.join(","),
                when(r.expires_at),
                r.last_used_at.map_or("-".into(), |t| when(Some(t))),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
}

fn record_json(record: &KeyRecord) -> serde_json::Value {
    let time = |at: Option<OffsetDateTime>| at.map(|t| when(Some(t)));
    serde_json::json!({
        "key_id": record.key_id,
        "name": record.name,
        "owner": record.owner,
        "state": record.state_at(OffsetDateTime::now_utc()),
        "scopes": record.scopes,
        "metadata": record.metadata,
        "created_at": when(Some(record.created_at)),
        "expires_at": time(record.expires_at),
        "revoked_at": time(record.revoked_at),
        "last_used_at": time(record.last_used_at),
        "rotated_from": record.rotated_from,
        "rotated_to": record.rotated_to,
    })
}
