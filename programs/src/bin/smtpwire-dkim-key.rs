//! DKIM keys for the bulk sender and the relay: makes a key file and
//! prints the DNS record that publishes its public half.
//!
//! ```sh
//! cargo run -p smtpwire-programs --bin smtpwire-dkim-key -- generate \
//!     --algorithm ed25519 --domain example.org --selector news --key news.ed25519.pem
//! cargo run -p smtpwire-programs --bin smtpwire-dkim-key -- record \
//!     --domain example.org --selector news --key news.ed25519.pem
//! ```
//!
//! `generate` writes a new PKCS#8 PEM key (RSA of 2048 bits, or Ed25519)
//! readable by its owner only, and refuses to replace an existing file;
//! both print `selector._domainkey.domain. IN TXT "v=DKIM1; k=…; p=…"`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use smtpwire_programs::dkim::{Algorithm, Key};

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(about = "Make a DKIM key and print the DNS record to publish")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a new key to a file and print its record.
    Generate {
        /// The kind of key.
        #[arg(long, value_enum, default_value_t = Kind::Rsa)]
        algorithm: Kind,
        #[command(flatten)]
        name: Name,
    },
    /// Print the record of an existing key file.
    Record {
        #[command(flatten)]
        name: Name,
    },
}

/// Where the key is published and kept.
#[derive(clap::Args, Debug)]
struct Name {
    /// The signing domain (the From: domain of the mail it signs).
    #[arg(long)]
    domain: String,
    /// The selector.
    #[arg(long)]
    selector: String,
    /// The key file (PEM).
    #[arg(long)]
    key: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Kind {
    /// RSA, 2048 bits (rsa-sha256).
    Rsa,
    /// Ed25519 (ed25519-sha256, RFC 8463).
    Ed25519,
}

fn main() -> ExitCode {
    let (name, result) = match Args::parse().command {
        Command::Generate { algorithm, name } => {
            let algorithm = match algorithm {
                Kind::Rsa => Algorithm::Rsa,
                Kind::Ed25519 => Algorithm::Ed25519,
            };
            let result = Key::generate(algorithm).and_then(|pem| write_private(&name.key, &pem));
            (name, result)
        }
        Command::Record { name } => (name, Ok(())),
    };
    match result.and_then(|()| Key::read(&name.domain, &name.selector, &name.key)) {
        Ok(key) => {
            println!("{}", key.txt_record());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Writes `pem` to a new file at `path` that only its owner can read: a
/// key that leaks lets anyone sign as the domain.
fn write_private(path: &Path, pem: &str) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}
