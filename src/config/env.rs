//! The command line and the environment together: every flag can be set from its
//! `LOCUST_EXPORTER_*` variable (clap reads them), and this module adds what clap does not:
//! booleans read as `1/0/true/false/yes/no/on/off`, a repeatable flag's variable read as a
//! comma-separated list (`\,` for a comma inside a value), and errors about a value that came
//! from a variable naming the variable and its value, not only the flag.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches};

use super::cli::{command, Args};
use super::ConfigError;

/// The flags that may be given more than once, and so take a list from their variable.
pub const REPEATABLE: [&str; 9] = [
    "csv",
    "events",
    "locust.uri",
    "web.listen-address",
    "push.label",
    "remote-write.url",
    "remote-write.label",
    "check",
    "check.warn",
];

/// What was parsed, and where each value came from.
pub struct Parsed {
    /// The flags' values (lists from variables already split).
    pub args: Args,
    matches: ArgMatches,
}

/// Splits a variable's list on commas; `\,` is a comma inside a value, `\\` a backslash.
pub fn split_list(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next @ (',' | '\\')) => out.last_mut().into_iter().for_each(|s| s.push(next)),
                Some(other) => out.last_mut().into_iter().for_each(|s| {
                    s.push('\\');
                    s.push(other);
                }),
                None => out.last_mut().into_iter().for_each(|s| s.push('\\')),
            },
            ',' => out.push(String::new()),
            c => out.last_mut().into_iter().for_each(|s| s.push(c)),
        }
    }
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits `LOCUST_EXPORTER_CHECK` on the commas between checks: those outside a selector's
/// braces and quotes (`p95{name="/a",method="GET"}<1s,fail_ratio<1%` is two checks).
pub fn split_checks(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut depth, mut quote): (u32, Option<char>) = (0, None);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let Some(current) = out.last_mut() else { break };
        match (c, quote) {
            ('\\', _) => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            (q, Some(open)) if q == open => {
                quote = None;
                current.push(c);
            }
            (_, Some(_)) => current.push(c),
            ('"' | '\'', None) => {
                quote = Some(c);
                current.push(c);
            }
            ('{' | '(' | '[', None) => {
                depth += 1;
                current.push(c);
            }
            ('}' | ')' | ']', None) => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            (',', None) if depth == 0 => out.push(String::new()),
            _ => current.push(c),
        }
    }
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The variable of the flag `--long`, if it has one.
fn variable_of(long: &str) -> Option<String> {
    command()
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned())
}

/// `VAR=value` when the flag `--long` was not on the command line and its variable is set.
fn from_variable(
    long: &str,
    argv: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let flag = format!("--{long}");
    let on_command_line = argv.iter().any(|a| {
        let a = a.to_string_lossy();
        a == flag || a.starts_with(&format!("{flag}="))
    });
    if on_command_line {
        return None;
    }
    let var = variable_of(long)?;
    env(&var).map(|value| format!("{var}={value}"))
}

/// Parses `argv` with the environment `env` (clap reads the variables itself; `env` is for
/// naming them in errors). A `clap::Error` is what to print and exit with (`Error::exit`):
/// bad arguments, and also `--help` and `--version`.
pub fn parse(
    argv: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed, clap::Error> {
    let matches = match command().try_get_matches_from(&argv) {
        Ok(m) => m,
        Err(e) => return Err(name_the_variable(e, &argv, env)),
    };
    let mut args = Args::from_arg_matches(&matches)?;
    let from_env = |id: &str| matches.value_source(id) == Some(ValueSource::EnvVariable);
    let split = |values: &mut Vec<String>, id: &str| {
        if from_env(id) {
            *values = values.iter().flat_map(|v| split_list(v)).collect();
        }
    };
    split(&mut args.inputs.csv, "csv");
    split(&mut args.inputs.events, "events");
    split(&mut args.inputs.locust_uri, "locust_uri");
    split(&mut args.outputs.push_labels, "push_labels");
    split(&mut args.listen_address, "listen_address");
    if from_env("checks") {
        args.checks.checks = args
            .checks
            .checks
            .iter()
            .flat_map(|v| split_checks(v))
            .collect();
    }
    if from_env("warn_checks") {
        args.checks.warn_checks = args
            .checks
            .warn_checks
            .iter()
            .flat_map(|v| split_checks(v))
            .collect();
    }
    Ok(Parsed { args, matches })
}

/// A clap error about a value that came from a variable, rewritten to name it.
fn name_the_variable(
    e: clap::Error,
    argv: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> clap::Error {
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return e;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let long = arg
        .trim_start_matches("--")
        .split([' ', '=', '['])
        .next()
        .unwrap_or_default()
        .to_owned();
    match from_variable(&long, argv, env) {
        Some(var) => command().error(
            ErrorKind::InvalidValue,
            format!("{var}: not a valid value for --{long} (from its variable)"),
        ),
        None => e,
    }
}

impl Parsed {
    /// `err`, naming the variable (and its value, read through `env`) when the flag's value
    /// came from one.
    pub fn explain(&self, err: ConfigError, env: &dyn Fn(&str) -> Option<String>) -> String {
        let ConfigError::Invalid { flag, message } = &err else {
            return err.to_string();
        };
        let long = flag.trim_start_matches("--");
        let id = command()
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .map(|a| a.get_id().as_str().to_owned());
        let from_env = id
            .as_deref()
            .is_some_and(|id| self.matches.value_source(id) == Some(ValueSource::EnvVariable));
        match (from_env, variable_of(long)) {
            (true, Some(var)) => {
                let value = env(&var).unwrap_or_default();
                format!("{var}={value} (for {flag}): {message}")
            }
            _ => err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_with_an_escape() {
        assert_eq!(split_list("a,b"), ["a", "b"]);
        assert_eq!(split_list(" a , b ,"), ["a", "b"]);
        assert_eq!(split_list(r"out/a\,b,c"), ["out/a,b", "c"]);
        assert_eq!(split_list(r"c:\\x,y"), [r"c:\x", "y"]);
        assert_eq!(split_list(r"a\b"), [r"a\b"]);
    }

    #[test]
    fn checks_split_on_commas_between_them() {
        assert_eq!(
            split_checks(r#"p95{name="/a",method="GET"}<1s, fail_ratio<1%,p99{name=~'a,b'}<2s"#),
            [
                r#"p95{name="/a",method="GET"}<1s"#,
                "fail_ratio<1%",
                "p99{name=~'a,b'}<2s"
            ]
        );
        assert_eq!(
            split_checks(r#"p95{name="a\",b"}<1s"#),
            [r#"p95{name="a\",b"}<1s"#]
        );
    }

    #[test]
    fn every_repeatable_flag_takes_a_list_from_its_variable() {
        let cmd = command();
        let repeatable: Vec<&str> = cmd
            .get_arguments()
            .filter(|a| matches!(a.get_action(), clap::ArgAction::Append))
            .filter_map(|a| a.get_long())
            .collect();
        assert_eq!(
            repeatable, REPEATABLE,
            "a repeatable flag must be split in parse()"
        );
    }
}
