//! Settings from a file: every command-line flag of a program is also a key
//! of a TOML file given with `--config FILE`, named as the flag without its
//! dashes (`max-connections-per-ip = 50`, `mx = ["a.test=127.0.0.1:25"]`,
//! `discard = true`). Flags on the command line override the file, a list
//! given there replacing the file's. A key no flag has is refused with its
//! name and line; `--check-config` validates both and prints the effective
//! settings, in the same form, then exits.
//!
//! The file feeds the program's own command-line parser, so a value in it
//! is checked exactly as the same flag would be, and no key can mean
//! something other than its flag.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

/// The flag that names the file.
const CONFIG: &str = "config";
/// The flag that validates and prints the effective settings.
const CHECK_CONFIG: &str = "check-config";

/// A file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{path}: {error}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and why, as the TOML parser says it.
        error: String,
    },
    /// A key is unknown or its value does not fit its flag.
    #[error("{path}:{line}: {problem}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key's line, from 1.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// Parses the program's command line, with the file `--config` names, into
/// `A`; prints the effective settings and exits for `--check-config`.
/// Errors are printed the way clap prints its own, and end the process
/// with status 2.
pub fn parse<A: CommandFactory + FromArgMatches>() -> A {
    match parse_from::<A>(std::env::args_os()) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Check(settings)) => {
            print!("{settings}");
            std::process::exit(0)
        }
        Err(Failure::Clap(error)) => error.exit(),
        Err(Failure::Config(error)) => {
            eprintln!("error: {error}");
            std::process::exit(2)
        }
    }
}

/// What a command line asks for.
#[derive(Debug)]
pub enum Parsed<A> {
    /// Run with these settings.
    Run(A),
    /// `--check-config`: the effective settings, as a file would give them.
    Check(String),
}

/// Why a command line cannot be used.
#[derive(Debug)]
pub enum Failure {
    /// The command line itself, or a value from the file, as clap says it.
    Clap(clap::Error),
    /// The file.
    Config(ConfigError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // clap's own rendering, without its trailing newline.
            Failure::Clap(error) => f.write_str(error.to_string().trim_end()),
            Failure::Config(error) => error.fmt(f),
        }
    }
}

/// [`parse`] over `command_line` (the program's name first), returning
/// instead of exiting.
pub fn parse_from<A: CommandFactory + FromArgMatches>(
    command_line: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Parsed<A>, Failure> {
    let (args, matches, settings) = settle::<A>(command_line)?;
    match matches.get_flag(CHECK_CONFIG) {
        true => Ok(Parsed::Check(settings)),
        false => Ok(Parsed::Run(args)),
    }
}

/// The settings `command_line` gives now, with the file it names read
/// again: `A`, and their effective form ([`Parsed::Check`]'s), one line
/// per flag, for telling what changed since an earlier reading.
pub fn reread<A: CommandFactory + FromArgMatches>(
    command_line: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<(A, String), Failure> {
    settle::<A>(command_line).map(|(args, _, settings)| (args, settings))
}

/// The command line with the file's flags in it, parsed.
fn settle<A: CommandFactory + FromArgMatches>(
    command_line: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<(A, ArgMatches, String), Failure> {
    let command_line: Vec<OsString> = command_line.into_iter().map(Into::into).collect();
    let command = with_config_flags(A::command());
    // Which flags the command line gives, before any required flag the
    // file may supply is missed.
    let given = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&command_line)
        .map_err(Failure::Clap)?;
    let mut arguments = command_line.clone();
    if let Some(path) = given.get_one::<PathBuf>(CONFIG) {
        let from_file = file_arguments(&command, path, &given).map_err(Failure::Config)?;
        // After the program's name and before its own flags.
        let at = arguments.len().min(1);
        arguments.splice(at..at, from_file);
    }
    let matches = command
        .clone()
        .try_get_matches_from(&arguments)
        .map_err(Failure::Clap)?;
    let args = A::from_arg_matches(&matches).map_err(Failure::Clap)?;
    let settings = effective_settings(&command, &matches);
    Ok((args, matches, settings))
}

/// The string `key` holds in the settings file at `path`, if it holds
/// one: for a tool that works beside a program and needs one of its
/// settings (the queue tools and the relay's `queue`).
pub fn string_value(path: &Path, key: &str) -> Result<Option<String>, ConfigError> {
    let (text, document) = read(path)?;
    let Some(item) = document.as_table().get(key) else {
        return Ok(None);
    };
    match item.as_str() {
        Some(value) => Ok(Some(value.to_string())),
        None => Err(ConfigError::Key {
            path: path.to_path_buf(),
            line: line_of(&text, item.span()),
            problem: format!("`{key}` must be a string"),
        }),
    }
}

/// The file's text, and its TOML.
fn read(path: &Path) -> Result<(String, toml_edit::Document<String>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let document =
        toml_edit::Document::parse(text.clone()).map_err(|error| ConfigError::Syntax {
            path: path.to_path_buf(),
            error: error.to_string(),
        })?;
    Ok((text, document))
}

fn with_config_flags(command: Command) -> Command {
    command
        .arg(
            Arg::new(CONFIG)
                .long(CONFIG)
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Read settings from this TOML file: one key per flag, named as the flag; flags given here override it"),
        )
        .arg(
            Arg::new(CHECK_CONFIG)
                .long(CHECK_CONFIG)
                .action(ArgAction::SetTrue)
                .help("Check the settings, print them as a --config file would give them, and exit"),
        )
}

/// The flags a settings file stands for, each `--key=value`, leaving out
/// the keys whose flags the command line gives.
fn file_arguments(
    command: &Command,
    path: &Path,
    given: &ArgMatches,
) -> Result<Vec<OsString>, ConfigError> {
    let (text, document) = read(path)?;
    let table = document.as_table();
    let mut arguments = Vec::new();
    for (key, item) in table.iter() {
        let problem = |problem: String| ConfigError::Key {
            path: path.to_path_buf(),
            line: line_of(&text, table.key(key).and_then(|key| key.span())),
            problem,
        };
        let arg = settable_args(command)
            .find(|arg| arg.get_long() == Some(key))
            .ok_or_else(|| problem(format!("unknown key `{key}`: no such flag")))?;
        if given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine) {
            continue;
        }
        let flag = format!("--{key}");
        let value = item
            .as_value()
            .ok_or_else(|| problem(format!("`{key}` must be a value, not a table")))?;
        match (takes_values(arg), value) {
            (false, toml_edit::Value::Boolean(on)) => {
                if *on.value() {
                    arguments.push(OsString::from(flag));
                }
            }
            (false, _) => return Err(problem(format!("`{key}` is true or false"))),
            (true, toml_edit::Value::Array(values)) if is_list(arg) => {
                for value in values.iter() {
                    let value = scalar(value)
                        .ok_or_else(|| problem(format!("`{key}` holds strings or numbers")))?;
                    arguments.push(OsString::from(format!("{flag}={value}")));
                }
            }
            (true, value) => {
                let value = scalar(value).ok_or_else(|| {
                    problem(match is_list(arg) {
                        true => format!("`{key}` is a string, a number or a list of them"),
                        false => format!("`{key}` is a string or a number"),
                    })
                })?;
                arguments.push(OsString::from(format!("{flag}={value}")));
            }
        }
    }
    Ok(arguments)
}

/// The settings in force, one `key = value` line per flag, in the order
/// of `--help`; a flag not set is a comment, so the output shows every key
/// a file may hold and reads back as the same settings.
fn effective_settings(command: &Command, matches: &ArgMatches) -> String {
    let mut settings = String::new();
    for arg in settable_args(command) {
        let (Some(key), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        if !takes_values(arg) {
            let _ = writeln!(settings, "{key} = {}", matches.get_flag(id));
            continue;
        }
        let values: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|value| toml_value(&value.to_string_lossy()))
            .collect();
        let _ = match (values.as_slice(), is_list(arg)) {
            ([], _) => writeln!(settings, "# {key} = (not set)"),
            (values, true) => writeln!(settings, "{key} = [{}]", values.join(", ")),
            ([value, ..], false) => writeln!(settings, "{key} = {value}"),
        };
    }
    settings
}

/// The flags a file may set: all but help, version and the two above.
fn settable_args(command: &Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|arg| {
        let id = arg.get_id().as_str();
        !matches!(id, "help" | "version" | CONFIG | CHECK_CONFIG) && arg.get_long().is_some()
    })
}

fn takes_values(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Set | ArgAction::Append)
}

fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// A string or number as its flag would take it.
fn scalar(value: &toml_edit::Value) -> Option<String> {
    match value {
        toml_edit::Value::String(text) => Some(text.value().clone()),
        toml_edit::Value::Integer(number) => Some(number.value().to_string()),
        toml_edit::Value::Float(number) => Some(number.value().to_string()),
        _ => None,
    }
}

/// A flag's value written as TOML: a number as such, anything else as a
/// string, quoted and escaped.
fn toml_value(raw: &str) -> String {
    // Only where the number reads back as the same text: "007" stays a
    // string.
    let integer = raw.parse::<i64>().ok().map(|number| number.to_string());
    let float = raw.parse::<f64>().ok().filter(|number| number.is_finite());
    let float = float.map(|number| format!("{number:?}"));
    match (integer, float) {
        (Some(number), _) if number == raw => number,
        (_, Some(number)) if number == raw => number,
        _ => toml_edit::Value::from(raw).to_string(),
    }
}

/// The line, from 1, where `span` starts in `text`.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> usize {
    let start = span.map_or(0, |span| span.start).min(text.len());
    text.as_bytes()[..start]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// A flag of every kind the programs have.
    #[derive(Debug, Parser, PartialEq)]
    struct Flags {
        /// Required, as the relay's --queue is.
        #[arg(long)]
        queue: PathBuf,
        /// With a default.
        #[arg(long, default_value = "127.0.0.1:2525")]
        listen: std::net::SocketAddr,
        /// A number, unset by default.
        #[arg(long)]
        max_recipients: Option<u32>,
        /// A fraction.
        #[arg(long, default_value_t = 1.0)]
        factor: f64,
        /// A switch.
        #[arg(long)]
        discard: bool,
        /// A list.
        #[arg(long)]
        mx: Vec<String>,
    }

    /// A settings file, removed when dropped.
    struct SettingsFile(PathBuf);

    impl Drop for SettingsFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn write(text: &str) -> (SettingsFile, String) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "smtpwire-config-{}-{number}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        let shown = path.display().to_string();
        (SettingsFile(path), shown)
    }

    fn run(arguments: &[&str]) -> Flags {
        match parse_from::<Flags>(std::iter::once("program").chain(arguments.iter().copied())) {
            Ok(Parsed::Run(flags)) => flags,
            other => panic!("{other:?}"),
        }
    }

    fn check(arguments: &[&str]) -> String {
        match parse_from::<Flags>(std::iter::once("program").chain(arguments.iter().copied())) {
            Ok(Parsed::Check(settings)) => settings,
            other => panic!("{other:?}"),
        }
    }

    fn config_error(arguments: &[&str]) -> String {
        match parse_from::<Flags>(std::iter::once("program").chain(arguments.iter().copied())) {
            Err(Failure::Config(error)) => error.to_string(),
            other => panic!("{other:?}"),
        }
    }

    /// Every kind of flag set from the file gives what the command line
    /// would, the required one included.
    #[test]
    fn every_kind_of_flag_is_a_key() {
        let (_scratch, path) = write(
            "queue = \"/var/queue\"\nlisten = \"[::1]:25\"\nmax-recipients = 50\n\
             factor = 1.5\ndiscard = true\nmx = [\"a.test=127.0.0.1:25\", \"b.test=127.0.0.2:25\"]\n",
        );
        let from_file = run(&["--config", &path]);
        let from_flags = run(&[
            "--queue=/var/queue",
            "--listen=[::1]:25",
            "--max-recipients=50",
            "--factor=1.5",
            "--discard",
            "--mx=a.test=127.0.0.1:25",
            "--mx=b.test=127.0.0.2:25",
        ]);
        assert_eq!(from_file, from_flags);
    }

    /// The command line wins, a list given there replacing the file's.
    #[test]
    fn flags_override_the_file() {
        let (_scratch, path) =
            write("queue = \"/var/queue\"\nmax-recipients = 50\nmx = [\"a.test=127.0.0.1:25\"]\n");
        let flags = run(&[
            "--max-recipients",
            "7",
            "--config",
            &path,
            "--mx",
            "c.test=127.0.0.3:25",
        ]);
        assert_eq!(flags.max_recipients, Some(7));
        assert_eq!(flags.mx, ["c.test=127.0.0.3:25"]);
        assert_eq!(flags.queue, PathBuf::from("/var/queue"));
    }

    /// The effective settings read back as the same settings, and list
    /// every key.
    #[test]
    fn the_effective_settings_round_trip() {
        let printed = check(&[
            "--check-config",
            "--queue=/var/q \"x\"",
            "--factor=2.5",
            "--mx=a.test=127.0.0.1:25",
            "--discard",
        ]);
        assert_eq!(
            printed,
            "queue = '/var/q \"x\"'\nlisten = \"127.0.0.1:2525\"\n\
             # max-recipients = (not set)\nfactor = 2.5\ndiscard = true\n\
             mx = [\"a.test=127.0.0.1:25\"]\n"
        );
        let (_scratch, path) = write(&printed);
        assert_eq!(check(&["--check-config", "--config", &path]), printed);
    }

    /// Unknown keys, wrong types and tables are refused with the line.
    #[test]
    fn a_bad_key_is_refused_with_its_name_and_line() {
        let (_scratch, path) = write("queue = \"/q\"\n\nmax-recipient = 5\n");
        assert_eq!(
            config_error(&["--config", &path]),
            format!("{path}:3: unknown key `max-recipient`: no such flag")
        );
        let (_scratch, path) = write("queue = \"/q\"\ndiscard = \"yes\"\n");
        assert_eq!(
            config_error(&["--config", &path]),
            format!("{path}:2: `discard` is true or false")
        );
        let (_scratch, path) = write("queue = \"/q\"\n[mx]\nx = 1\n");
        assert_eq!(
            config_error(&["--config", &path]),
            format!("{path}:2: `mx` must be a value, not a table")
        );
        let (_scratch, path) = write("queue = [\n");
        assert!(config_error(&["--config", &path]).starts_with(&format!("{path}: ")));
    }

    /// A value the flag's parser refuses is refused as on the command line.
    #[test]
    fn values_are_checked_as_flags_are() {
        let (_scratch, path) = write("queue = \"/q\"\nmax-recipients = -1\n");
        let failure =
            parse_from::<Flags>(["program", "--config", path.as_str()]).expect_err("accepted -1");
        let Failure::Clap(error) = failure else {
            panic!("{failure:?}")
        };
        assert!(error.to_string().contains("--max-recipients"), "{error}");
    }
}
