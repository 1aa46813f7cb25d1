//! `keygate`: issue, list, show, rotate, revoke and verify API keys in a keygate database.
//!
//! ```text
//! keygate init [--prefix P]      # create the key database; other commands refuse a missing file
//! keygate keys create --name ci-deploy --owner team-infra --scopes items:read,items:write --expires-in 90d
//! keygate keys list [--owner X] [--all] [--json]
//! keygate keys show <KEY_ID> [--json]
//! keygate keys revoke <KEY_ID>
//! keygate keys rotate <KEY_ID> --grace 24h
//! keygate keys set-expiry <KEY_ID> 90d
//! keygate keys audit [--unused-for 90d] [--older-than 180d] [--json]   # exit 1 on findings
//! keygate keys verify            # reads a key on stdin
//! keygate keys usage <KEY_ID> [--since 7d] [--hourly|--daily] [--json]
//! ```
//!
//! `args` holds what the command line accepts, `commands` one function per subcommand (`audit`
//! the audit's), `database` how the key database is reached, `output` everything printed, and
//! `usage` the usage report (its command and its table).

#![forbid(unsafe_code)]

mod args;
mod audit;
mod commands;
mod database;
mod output;
mod usage;

use std::process::ExitCode;

use clap::Parser;

/// Why a command failed, printed as one line on stderr, and the exit code (1 unless the command
/// gives 1 another meaning).
pub(crate) struct Failure {
    message: String,
    exit: u8,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            exit: 1,
        }
    }

    /// The same failure, exiting with `exit`.
    pub(crate) fn exit_code(self, exit: u8) -> Self {
        Failure { exit, ..self }
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::new(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            output::usage_failure(&error);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            output::failure(&format!("cannot start: {error}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(Failure { message, exit }) => {
            output::failure(&message);
            ExitCode::from(exit)
        }
    }
}
