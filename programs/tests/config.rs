//! The programs' settings files: what `--check-config` prints is a file
//! that gives the same settings back, for every flag of every program; a
//! key no flag has is refused with its line; flags override the file; and
//! a server runs from one.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use support::Scratch;

/// A program with flags that set something of every kind it has, the
/// required ones included.
const PROGRAMS: [(&str, &[&str]); 4] = [
    (
        env!("CARGO_BIN_EXE_smtpwire-server"),
        &[
            "--hostname=mx.test",
            "--max-recipients=20",
            "--proxy-protocol",
            "--trusted-proxy=127.0.0.2",
            "--trusted-proxy=::1",
            "--lmtp",
            "--unknown-recipient=nobody@mx.test",
            "--no-dsn",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_smtpwire-relay"),
        &[
            "--mx=example.net=127.0.0.1:2525",
            "--retry-factor=3",
            "--source-ip=127.0.0.2",
            "--interval=0.5",
            "--no-tls",
            "--mta-sts",
            "--next-hop-ca=ca.pem",
            "--mta-sts-port=8443",
            "--tls-report-file=tls-report.jsonl",
            "--rewrite-table=table",
            "--srs-domain=relay.example",
            "--srs-secret-file=srs-secret",
            "--dane",
            "--dnssec-trust-anchor=anchor.key",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_smtpwire-send"),
        &[
            "--from=a@example.org",
            "--to=b@example.net",
            "--to=c@example.net",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_smtpwire-bulk"),
        &[
            "--list=list.csv",
            "--from=news@example.org",
            "--unsubscribe-url=https://example.org/u?e={{email}}",
            "--template=message.eml",
            "--warmup-daily=50",
            "--warmup-hourly=10",
        ],
    ),
];

fn run(program: &str, arguments: &[&str]) -> Output {
    Command::new(program).args(arguments).output().unwrap()
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// For each program, the printed settings name every flag (set or as a
/// comment) and, read back from a file, print the same again.
#[test]
fn the_printed_settings_read_back_the_same_for_every_program() {
    let scratch = Scratch::new("config-printed");
    for (index, (program, flags)) in PROGRAMS.iter().enumerate() {
        let mut arguments = flags.to_vec();
        arguments.push("--check-config");
        let printed = stdout_of(&run(program, &arguments));
        for flag in flags.iter() {
            let key = flag.trim_start_matches("--").split('=').next().unwrap();
            assert!(
                printed
                    .lines()
                    .any(|line| line.starts_with(&format!("{key} = "))),
                "{program}: {key} missing from\n{printed}"
            );
        }
        let help = stdout_of(&run(program, &["--help"]));
        for line in help.lines() {
            // Only the lines that introduce a flag: "  -h, --help" or
            // "      --listen <LISTEN>".
            let flag_line = line.trim_start();
            if !flag_line.starts_with('-') {
                continue;
            }
            let Some(long) = flag_line
                .split_whitespace()
                .find(|word| word.starts_with("--"))
            else {
                continue;
            };
            let key = long.trim_start_matches("--").trim_end_matches(',');
            if matches!(key, "help" | "version" | "config" | "check-config") {
                continue;
            }
            assert!(
                printed
                    .lines()
                    .any(|line| line.starts_with(&format!("{key} = "))
                        || line.starts_with(&format!("# {key} = "))),
                "{program}: --{key} has no key in\n{printed}"
            );
        }
        let file = scratch.0.join(format!("settings-{index}.toml"));
        std::fs::write(&file, &printed).unwrap();
        let file = file.display().to_string();
        let again = stdout_of(&run(program, &["--config", &file, "--check-config"]));
        assert_eq!(again, printed, "{program}");
    }
}

/// The example settings files in `programs/dist/` are valid and say what
/// they mean to.
#[test]
fn the_example_settings_files_are_valid() {
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/dist");
    let (server, _) = PROGRAMS[0];
    let printed = stdout_of(&run(
        server,
        &[
            "--config",
            &format!("{dist}/smtpwire-server.toml"),
            "--check-config",
        ],
    ));
    assert!(
        printed.contains("\nhostname = \"mx.example.org\"\n"),
        "{printed}"
    );
    assert!(
        printed.contains("\nmessage-rate-limit = 100\n"),
        "{printed}"
    );
    let (relay, _) = PROGRAMS[1];
    let printed = stdout_of(&run(
        relay,
        &[
            "--config",
            &format!("{dist}/smtpwire-relay.toml"),
            "--check-config",
        ],
    ));
    assert!(
        printed.contains("\nsource-ip = [\"192.0.2.10\", \"192.0.2.11\"]\n"),
        "{printed}"
    );
    assert!(printed.contains("\nwarmup-daily = 50\n"), "{printed}");
}

/// A key no flag has stops the program before it starts, naming the key
/// and its line; so does a value of the wrong kind.
#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let scratch = Scratch::new("config-unknown");
    let (server, _) = PROGRAMS[0];
    let file = scratch.0.join("unknown.toml");
    std::fs::write(
        &file,
        "hostname = \"mx.test\"\n# a comment\nmax-recipient = 5\n",
    )
    .unwrap();
    let output = run(server, &["--config", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        format!(
            "error: {}:3: unknown key `max-recipient`: no such flag\n",
            file.display()
        )
    );
    std::fs::write(&file, "max-recipients = \"many\"\n").unwrap();
    let output = run(server, &["--config", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("'many'") && stderr.contains("--max-recipients"),
        "{stderr}"
    );
}

/// The command line overrides the file; a list given there replaces the
/// file's.
#[test]
fn flags_override_the_file() {
    let scratch = Scratch::new("config-override");
    let (relay, _) = PROGRAMS[1];
    let file = scratch.0.join("relay.toml");
    std::fs::write(
        &file,
        "retry-factor = 3\nmx = [\"a.test=127.0.0.1:25\", \"b.test=127.0.0.1:26\"]\n",
    )
    .unwrap();
    let printed = stdout_of(&run(
        relay,
        &[
            "--retry-factor=5",
            "--config",
            file.to_str().unwrap(),
            "--mx=c.test=127.0.0.1:27",
            "--check-config",
        ],
    ));
    assert!(printed.contains("\nretry-factor = 5\n"), "{printed}");
    assert!(
        printed.contains("\nmx = [\"c.test=127.0.0.1:27\"]\n"),
        "{printed}"
    );
}

/// A server started with only `--config` takes its address, name and
/// store from the file.
#[test]
fn a_server_runs_from_its_settings_file() {
    let scratch = Scratch::new("config-server");
    let (server, _) = PROGRAMS[0];
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file: PathBuf = scratch.0.join("server.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:{port}\"\nhostname = \"from-file.test\"\ndiscard = true\n\
             no-tls = true\nexit-after-idle = 5\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(server)
        .args(["--config", file.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stream =
        match support::connect_when_listening(std::net::SocketAddr::from(([127, 0, 0, 1], port))) {
            Ok(stream) => stream,
            Err(error) => {
                let _ = child.kill();
                panic!("the server never listened: {error}")
            }
        };
    let mut greeting = String::new();
    BufReader::new(&stream).read_line(&mut greeting).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(greeting.starts_with("220 from-file.test "), "{greeting}");
}
