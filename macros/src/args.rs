//! The attribute's arguments: each one's name and example, written once.

/// How the listed scopes combine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every scope listed is needed.
    All,
    /// One of the scopes listed is enough.
    Any,
}

/// An argument of `#[require_api_key(…)]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Argument {
    /// `scopes = …` or `any_scopes = …`.
    Scopes(Mode),
    /// `state = AppState`.
    State,
}

impl Argument {
    /// Every argument, in the order messages list them.
    pub(crate) const ALL: [Argument; 3] = [
        Argument::Scopes(Mode::All),
        Argument::Scopes(Mode::Any),
        Argument::State,
    ];

    /// The argument written `name`, if there is one.
    pub(crate) fn named(name: &str) -> Option<Argument> {
        Argument::ALL
            .into_iter()
            .find(|argument| argument.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Argument::Scopes(Mode::All) => "scopes",
            Argument::Scopes(Mode::Any) => "any_scopes",
            Argument::State => "state",
        }
    }

    /// The argument written out, as messages show it.
    pub(crate) fn example(self) -> &'static str {
        match self {
            Argument::Scopes(Mode::All) => "`scopes = \"items:read\"`",
            Argument::Scopes(Mode::Any) => "`any_scopes = [\"admin\", \"items:read\"]`",
            Argument::State => "`state = AppState`",
        }
    }

    /// "expected `scopes`, `any_scopes` or `state`".
    pub(crate) fn expected() -> String {
        let [rest @ .., last] = Argument::ALL.map(|argument| format!("`{}`", argument.name()));
        format!("expected {} or {last}", rest.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_is_found_by_its_name() {
        for argument in Argument::ALL {
            assert!(Argument::named(argument.name()) == Some(argument));
            assert!(
                argument
                    .example()
                    .starts_with(&format!("`{} = ", argument.name()))
            );
        }
        assert!(Argument::named("scope").is_none());
    }

    #[test]
    fn lists_what_is_expected() {
        assert_eq!(
            Argument::expected(),
            "expected `scopes`, `any_scopes` or `state`"
        );
    }
}
