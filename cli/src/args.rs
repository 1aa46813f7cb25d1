//! What the command line accepts, as clap parses it. Nothing here is checked beyond its shape;
//! durations and scopes are checked by the commands, before the database is touched.

use clap::{Args, Parser, Subcommand};

/// Issue, list, show, rotate, revoke and verify keygate API keys.
#[derive(Debug, Parser)]
#[command(name = "keygate", version)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) options: GlobalOptions,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every subcommand takes: where the keys are and how they are made.
#[derive(Debug, Args)]
pub(crate) struct GlobalOptions {
    /// The key database: sqlite://path/to/keys.db or postgres://user@host/db.
    #[arg(
        long,
        env = "KEYGATE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub(crate) database_url: Option<String>,
    /// The name of the environment variable holding the service's pepper, if it uses one.
    #[arg(long, value_name = "NAME", global = true)]
    pub(crate) pepper_env: Option<String>,
    /// The key prefix. Default: the one recorded in the database by the service.
    #[arg(long, global = true)]
    pub(crate) prefix: Option<String>,
    /// The service's maximum key lifetime, such as 90d: new keys get it as their expiry, and a
    /// longer --expires-in is refused. Default: no limit.
    #[arg(
        long,
        value_name = "DURATION",
        env = "KEYGATE_MAX_KEY_LIFETIME",
        global = true,
        allow_hyphen_values = true
    )]
    pub(crate) max_lifetime: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the key database (or bring an existing one up to date); with --prefix, record the
    /// key prefix. Other commands refuse a SQLite file that does not exist.
    Init,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key and print it once.
    Create(CreateArgs),
    /// List keys (active ones unless --all). Never prints secrets.
    List(ListArgs),
    /// Show one key's record.
    Show(ShowArgs),
    /// Revoke a key, at once and for good.
    Revoke(RevokeArgs),
    /// Replace a key: print a new one; the old one keeps working for the grace period.
    Rotate(RotateArgs),
    /// Set a key's rate limit (100/min, 10/s burst 20), or `none` to remove it.
    SetLimit(SetLimitArgs),
    /// Make a key expire after a duration from now (90d), or `none` to remove its expiry.
    SetExpiry(SetExpiryArgs),
    /// Point out keys to rotate, revoke or give an expiry. Exit 0: nothing found; 1: findings;
    /// 2: the audit could not be made.
    Audit(AuditArgs),
    /// Read a key on stdin and say whether it is valid, with its key id and scopes.
    Verify,
    /// Show a key's usage per hour or day: admitted requests and refusals, with a bar chart.
    Usage(UsageArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// A name for the key, such as ci-deploy.
    #[arg(long)]
    pub(crate) name: String,
    /// Who holds it, such as team-infra.
    #[arg(long, default_value = "")]
    pub(crate) owner: String,
    /// Granted scopes, comma-separated: a scope, `*`, or a scope followed by `:*`.
    #[arg(long, value_delimiter = ',')]
    pub(crate) scopes: Vec<String>,
    /// How long the key lives: 30m, 24h, 90d, 2w. Default: until revoked.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub(crate) expires_in: Option<String>,
    /// How fast the key may call: 100/min, 10/s burst 20, 1000/h. Default: not limited (or the
    /// service's default limit).
    #[arg(long, value_name = "LIMIT", allow_hyphen_values = true)]
    pub(crate) rate_limit: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only keys held by this owner.
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// Include revoked and expired keys.
    #[arg(long)]
    pub(crate) all: bool,
    /// Only keys not used for this long (or never, and created this long ago), such as 90d.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub(crate) unused_for: Option<String>,
    /// Only keys created at least this long ago, such as 180d.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub(crate) older_than: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The public key id.
    pub(crate) key_id: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The public key id.
    pub(crate) key_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// The public key id.
    pub(crate) key_id: String,
    /// How long the old key keeps working, such as 24h. Default: it stops now.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub(crate) grace: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SetLimitArgs {
    /// The public key id.
    pub(crate) key_id: String,
    /// The limit, such as 100/min or 10/s burst 20 (quote it: it has spaces), or `none`.
    #[arg(allow_hyphen_values = true)]
    pub(crate) limit: String,
}

#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// The public key id.
    pub(crate) key_id: String,
    /// How far back: 24h, 7d, 90d.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "7d",
        allow_hyphen_values = true
    )]
    pub(crate) since: String,
    /// One row per hour (the default up to 2 days back).
    #[arg(long, conflicts_with = "daily")]
    pub(crate) hourly: bool,
    /// One row per day, UTC (the default beyond 2 days back).
    #[arg(long)]
    pub(crate) daily: bool,
    /// Print JSON (only hours or days with use) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SetExpiryArgs {
    /// The public key id.
    pub(crate) key_id: String,
    /// How long from now the key keeps working, such as 90d, or `none`.
    #[arg(allow_hyphen_values = true)]
    pub(crate) expires_in: String,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Report keys not used for this long (or never, and created this long ago).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "90d",
        allow_hyphen_values = true
    )]
    pub(crate) unused_for: String,
    /// Report keys created this long ago and never rotated.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "180d",
        allow_hyphen_values = true
    )]
    pub(crate) older_than: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}
