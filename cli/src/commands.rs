//! One function per subcommand. Each checks its own arguments before the database is opened, so
//! a mistake on the command line writes nothing.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use keygate::NewKey;
use keygate::duration::parse_duration;
use keygate::hygiene;
use keygate::limit::RateLimit;
use keygate::record::{KeyFilter, KeyState, KeyView};
use keygate::reject::RejectionKind;
use time::OffsetDateTime;

use crate::Failure;
use crate::args::{
    Cli, Command, CreateArgs, KeysCommand, ListArgs, RevokeArgs, RotateArgs, SetExpiryArgs,
    SetLimitArgs, ShowArgs,
};
use crate::database::{Database, KeyText};
use crate::output;

/// The longest key text `verify` reads from stdin.
const MAX_KEY_INPUT: u64 = 4096;

/// Runs the command the user asked for.
pub(crate) async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    // The audit exits 1 when it finds something, so its own failures need another code.
    let auditing = matches!(cli.command, Command::Keys(KeysCommand::Audit(_)));
    let result = run_command(cli).await;
    if auditing {
        result.map_err(|failure| failure.exit_code(crate::audit::COULD_NOT_AUDIT))
    } else {
        result
    }
}

async fn run_command(cli: Cli) -> Result<ExitCode, Failure> {
    let database = Database::from_options(cli.options)?;
    match cli.command {
        Command::Init => init(&database).await,
        Command::Keys(KeysCommand::Create(args)) => create(&database, args).await,
        Command::Keys(KeysCommand::List(args)) => list(&database, args).await,
        Command::Keys(KeysCommand::Show(args)) => show(&database, args).await,
        Command::Keys(KeysCommand::Revoke(args)) => revoke(&database, args).await,
        Command::Keys(KeysCommand::Rotate(args)) => rotate(&database, args).await,
        Command::Keys(KeysCommand::SetLimit(args)) => set_limit(&database, args).await,
        Command::Keys(KeysCommand::SetExpiry(args)) => set_expiry(&database, args).await,
        Command::Keys(KeysCommand::Audit(args)) => crate::audit::audit(&database, args).await,
        Command::Keys(KeysCommand::Verify) => verify(&database).await,
        Command::Keys(KeysCommand::Usage(args)) => crate::usage::run(&database, args).await,
    }
}

/// `keygate init`: creates the database if it is missing, migrates it, records `--prefix`.
async fn init(database: &Database) -> Result<ExitCode, Failure> {
    let done = database.initialise().await?;
    output::initialised(&mut std::io::stdout().lock(), &done)?;
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys create`: mints a key and prints it once.
async fn create(database: &Database, args: CreateArgs) -> Result<ExitCode, Failure> {
    let lifetime = args.expires_in.as_deref().map(parse_duration).transpose()?;
    let rate_limit = args
        .rate_limit
        .as_deref()
        .map(str::parse::<RateLimit>)
        .transpose()
        .map_err(|e| Failure::new(format!("--rate-limit: {e}")))?;
    if args.name.trim().is_empty() {
        return Err(Failure::new("--name must not be empty"));
    }
    if let Some(problem) = args
        .scopes
        .iter()
        .find_map(|scope| keygate::scope::grant_problem(scope))
    {
        return Err(Failure::new(format!(
            "invalid scope in --scopes: {problem}"
        )));
    }
    let gate = database.gate(KeyText::Handled).await?;
    let mut new = NewKey::new(args.name).owner(args.owner).scopes(args.scopes);
    if let Some(lifetime) = lifetime {
        new = new.expires_in(lifetime);
    }
    if let Some(limit) = rate_limit {
        new = new.rate_limit(limit);
    }
    let created = gate.create_key(new).await?;
    let view = KeyView::from(&created.record);
    output::created(&mut std::io::stdout().lock(), &view, created.key.expose())?;
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys list`: active keys (all with `--all`), as a table or JSON; with
/// `--unused-for` / `--older-than`, only those unused or old enough.
async fn list(database: &Database, args: ListArgs) -> Result<ExitCode, Failure> {
    let period = |flag: &str, text: Option<String>| {
        text.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| Failure::new(format!("{flag}: {e}")))
    };
    let unused_for = period("--unused-for", args.unused_for)?;
    let older_than = period("--older-than", args.older_than)?;
    let gate = database.gate(KeyText::Untouched).await?;
    let mut filter = KeyFilter::default();
    if let Some(owner) = args.owner {
        filter = filter.owner(owner);
    }
    if !args.all {
        filter = filter.state(KeyState::Active);
    }
    let records = gate.list_keys(&filter).await?;
    let now = OffsetDateTime::now_utc();
    let views: Vec<KeyView> = records
        .iter()
        .filter(|record| unused_for.is_none_or(|p| hygiene::is_unused_for(record, p, now)))
        .filter(|record| older_than.is_none_or(|p| hygiene::is_older_than(record, p, now)))
        .map(|record| KeyView::at(record, now))
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &views)?;
    } else {
        output::table(&mut out, &views)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys show`: one key's record.
async fn show(database: &Database, args: ShowArgs) -> Result<ExitCode, Failure> {
    let gate = database.gate(KeyText::Untouched).await?;
    let view = KeyView::from(&gate.get_key(&args.key_id).await?);
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &view)?;
    } else {
        output::record(&mut out, &view)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys revoke`: revokes a key at once.
async fn revoke(database: &Database, args: RevokeArgs) -> Result<ExitCode, Failure> {
    let gate = database.gate(KeyText::Untouched).await?;
    let record = gate.revoke_key(&args.key_id).await?;
    output::revoked(&mut std::io::stdout().lock(), &record.key_id)?;
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys rotate`: mints a successor; the old key works for the grace period.
async fn rotate(database: &Database, args: RotateArgs) -> Result<ExitCode, Failure> {
    let grace = args
        .grace
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .unwrap_or_default();
    let gate = database.gate(KeyText::Handled).await?;
    rotate_with(
        &gate,
        &args.key_id,
        grace,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
    .await
}

/// Rotates `key_id` and says so: the new key first, since once the rotation is written its text
/// exists nowhere else, then when the old key stops working, read back. A failed read-back
/// costs only that line (on `err`): the rotation is done and its key shown.
async fn rotate_with(
    gate: &keygate::KeyGate,
    key_id: &str,
    grace: std::time::Duration,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let created = gate.rotate_key(key_id, grace).await?;
    output::created(out, &KeyView::from(&created.record), created.key.expose())?;
    out.flush()?;
    match gate.get_key(key_id).await {
        Ok(old) => output::rotated_out(out, &old.key_id, KeyView::from(&old).expires_at)?,
        Err(error) => writeln!(
            err,
            "keygate: rotated, and the new key is shown above; when the old key stops working \
             could not be read back: {}",
            output::terminal_safe(&error.to_string())
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys set-limit`: sets or removes a key's rate limit.
async fn set_limit(database: &Database, args: SetLimitArgs) -> Result<ExitCode, Failure> {
    let limit = match args.limit.trim() {
        "none" => None,
        text => Some(
            text.parse::<RateLimit>()
                .map_err(|e| Failure::new(e.to_string()))?,
        ),
    };
    let gate = database.gate(KeyText::Untouched).await?;
    let record = gate.set_rate_limit(&args.key_id, limit).await?;
    output::limit_set(&mut std::io::stdout().lock(), &KeyView::from(&record))?;
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys set-expiry`: makes a key expire a duration from now, or never with `none`.
async fn set_expiry(database: &Database, args: SetExpiryArgs) -> Result<ExitCode, Failure> {
    let lifetime = match args.expires_in.trim() {
        "none" => None,
        text => Some(parse_duration(text)?),
    };
    let gate = database.gate(KeyText::Untouched).await?;
    let record = gate.set_key_expiry(&args.key_id, lifetime).await?;
    output::expiry_set(&mut std::io::stdout().lock(), &KeyView::from(&record))?;
    Ok(ExitCode::SUCCESS)
}

/// `keygate keys verify`: reads a key on stdin; exit 0 if it is valid, 1 if not.
async fn verify(database: &Database) -> Result<ExitCode, Failure> {
    let gate = database.gate(KeyText::Handled).await?;
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("paste the key, then press Enter and Ctrl-D:");
    }
    let mut key = String::new();
    stdin
        .by_ref()
        .take(MAX_KEY_INPUT)
        .read_to_string(&mut key)
        .map_err(|_| Failure::new("could not read a key from stdin"))?;
    let mut out = std::io::stdout().lock();
    match gate.verify(key.trim()).await {
        Ok(identity) => {
            output::valid(&mut out, &identity)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(rejection) if rejection.kind() == &RejectionKind::StoreUnavailable => {
            Err(Failure::new(
                "the key could not be checked: the database did not answer, or the key's hash \
                 needs the service's pepper (--pepper-env)",
            ))
        }
        Err(rejection) => {
            output::invalid(&mut out, rejection.kind().code())?;
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use keygate::record::{KeyFilter, KeyRecord};
    use keygate::store::{ChangeOutcome, KeyChange, KeyStore, StoreError};
    use keygate::{KeyGate, MemoryStore, NewKey};
    use time::OffsetDateTime;

    /// A store whose reads fail once a rotation is written: a database that takes the write and
    /// then times out.
    #[derive(Default)]
    struct ReadsFailAfterRotation {
        inner: MemoryStore,
        failing: AtomicBool,
    }

    impl KeyStore for ReadsFailAfterRotation {
        async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError::unavailable("the read timed out"));
            }
            self.inner.fetch(key_id).await
        }
        async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
            self.inner.insert(record).await
        }
        async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
            self.inner.list(filter).await
        }
        async fn update(
            &self,
            key_id: &str,
            change: KeyChange,
        ) -> Result<ChangeOutcome, StoreError> {
            let rotation = matches!(change, KeyChange::Rotate { .. });
            let outcome = self.inner.update(key_id, change).await?;
            self.failing.store(rotation, Ordering::SeqCst);
            Ok(outcome)
        }
        async fn record_last_used(
            &self,
            uses: &[(String, OffsetDateTime)],
        ) -> Result<(), StoreError> {
            self.inner.record_last_used(uses).await
        }
    }

    #[tokio::test]
    async fn a_rotation_whose_read_back_fails_still_shows_the_new_key() {
        let store = Arc::new(ReadsFailAfterRotation::default());
        let gate = KeyGate::builder()
            .prefix("demo")
            .store(store.clone())
            .build();
        let old = gate.create_key(NewKey::new("ci")).await.unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = super::rotate_with(
            &gate,
            &old.record.key_id,
            Duration::from_secs(60),
            &mut out,
            &mut err,
        )
        .await
        .unwrap_or_else(|_| panic!("the rotation was written"));
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        let out = String::from_utf8(out).unwrap();
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("could not be read back"), "{err}");
        // The key printed is the one the store now holds.
        store.failing.store(false, Ordering::SeqCst);
        let shown = out
            .split_whitespace()
            .find(|word| word.starts_with("demo_"))
            .unwrap_or_else(|| panic!("no key in {out:?}"));
        assert!(gate.verify(shown).await.is_ok());
    }
}
