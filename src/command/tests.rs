use super::*;
use crate::address::{AddressError, AddressLiteral, LocalPart, Mailbox};
use crate::auth::MechanismError;
use crate::params::{
    AuthParam, BodyType, ByMode, FutureRelease, Notify, OrcptType, ParamError, Ret,
};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

fn parse(line: &str) -> Result<Command, CommandError> {
    Command::parse(&Bytes::copy_from_slice(line.as_bytes()))
}

fn lenient(line: &str) -> Result<Command, CommandError> {
    Command::parse_with(
        &Bytes::copy_from_slice(line.as_bytes()),
        &ParseOptions::LENIENT,
    )
}

fn emitted(command: &Command) -> String {
    let mut out = Vec::new();
    command.emit(&mut out);
    String::from_utf8(out).unwrap()
}

/// Parses, checks the canonical form, and that it parses back to the same.
fn roundtrip(line: &str, canonical: &str) -> Command {
    let command = parse(line).unwrap_or_else(|err| panic!("{line:?}: {err}"));
    assert_eq!(
        emitted(&command),
        alloc::format!("{canonical}\r\n"),
        "{line:?}"
    );
    assert_eq!(parse(canonical).unwrap(), command);
    command
}

#[test]
fn rfc5321_scenario_d1() {
    for line in [
        "EHLO bar.com",
        "MAIL FROM:<Smith@bar.com>",
        "RCPT TO:<Jones@foo.com>",
        "RCPT TO:<Green@foo.com>",
        "DATA",
        "QUIT",
        "RSET",
        "VRFY Crispin",
        "EXPN Example-People",
        "HELO bar.com",
        "NOOP",
        "HELP",
        "STARTTLS",
    ] {
        roundtrip(line, line);
    }
}

#[test]
fn verbs_are_case_insensitive() {
    assert_eq!(roundtrip("ehlo bar.com", "EHLO bar.com").verb(), "EHLO");
    roundtrip("mail from:<a@b>", "MAIL FROM:<a@b>");
    roundtrip("Rcpt To:<a@b>", "RCPT TO:<a@b>");
    roundtrip("starttls", "STARTTLS");
    roundtrip("bdat 10 last", "BDAT 10 LAST");
}

#[test]
fn hello_forms() {
    let ehlo = roundtrip("EHLO [192.0.2.1]", "EHLO [192.0.2.1]");
    assert!(matches!(
        ehlo,
        Command::Ehlo {
            host: Host::Literal(AddressLiteral::V4(_))
        }
    ));
    roundtrip("EHLO [IPv6:2001:db8::1]", "EHLO [IPv6:2001:db8::1]");
    roundtrip("LHLO client.example", "LHLO client.example");
    assert!(matches!(
        parse("HELO [192.0.2.1]"),
        Err(CommandError::Host { verb: "HELO", .. })
    ));
    assert!(matches!(
        parse("EHLO"),
        Err(CommandError::MissingArgument { verb: "EHLO" })
    ));
    assert!(matches!(parse("EHLO a b"), Err(CommandError::Host { .. })));
    assert!(matches!(parse("EHLO  a"), Err(CommandError::Syntax { .. })));
    // RFC 6531 §3.7.1: the hello name is ASCII, an IDN goes as A-labels.
    assert_eq!(
        parse("EHLO bücher.example"),
        Err(CommandError::NonAsciiHost { verb: "EHLO" })
    );
    assert_eq!(
        parse("HELO bücher.example"),
        Err(CommandError::NonAsciiHost { verb: "HELO" })
    );
    roundtrip("EHLO xn--bcher-kva.example", "EHLO xn--bcher-kva.example");
}

#[test]
fn mail_paths() {
    assert_eq!(
        roundtrip("MAIL FROM:<>", "MAIL FROM:<>"),
        Command::mail(ReversePath::Null, MailParameters::default())
    );
    let quoted = roundtrip(
        r#"MAIL FROM:<"john \"jd\" doe"@example.com>"#,
        r#"MAIL FROM:<"john \"jd\" doe"@example.com>"#,
    );
    let Command::Mail { from, .. } = quoted else {
        panic!()
    };
    assert_eq!(
        from.mailbox().unwrap().local_part().value(),
        r#"john "jd" doe"#
    );
    roundtrip("MAIL FROM:<a@[IPv6:::1]>", "MAIL FROM:<a@[IPv6:::1]>");
    roundtrip(
        "MAIL FROM:<@hosta.int,@jkl.org:userc@d.bar.org>",
        "MAIL FROM:<userc@d.bar.org>",
    );
    roundtrip(
        "MAIL FROM:<用户@例子.广告> SMTPUTF8",
        "MAIL FROM:<用户@例子.广告> SMTPUTF8",
    );
}

#[test]
fn rcpt_paths() {
    assert_eq!(
        roundtrip("RCPT TO:<postmaster>", "RCPT TO:<Postmaster>"),
        Command::rcpt(ForwardPath::Postmaster, RcptParameters::default())
    );
    roundtrip(
        "RCPT TO:<Postmaster@example.org>",
        "RCPT TO:<Postmaster@example.org>",
    );
    assert_eq!(
        parse("RCPT TO:<>"),
        Err(CommandError::ForwardPath(AddressError::NullRecipient))
    );
}

#[test]
fn strict_spacing_and_its_options() {
    for line in [
        "MAIL FROM: <a@b>",
        "MAIL  FROM:<a@b>",
        "MAIL FROM:<a@b>  SIZE=1",
        "MAIL FROM:a@b",
    ] {
        assert!(
            matches!(
                parse(line),
                Err(CommandError::Syntax { .. } | CommandError::Parameter(_))
            ),
            "{line}"
        );
    }
    assert!(matches!(
        parse("MAIL FROM:<a@b>SIZE=1"),
        Err(CommandError::Syntax { .. })
    ));
    assert_eq!(
        lenient("MAIL FROM: <a@b>").unwrap(),
        parse("MAIL FROM:<a@b>").unwrap()
    );
    assert_eq!(
        lenient("RCPT  TO:  <a@b>  NOTIFY=NEVER").unwrap(),
        parse("RCPT TO:<a@b> NOTIFY=NEVER").unwrap()
    );
    assert_eq!(lenient("NOOP   x").unwrap(), parse("NOOP x").unwrap());
}

#[test]
fn trailing_whitespace_follows_rfc5321_4_1_1() {
    assert_eq!(parse("QUIT  \t").unwrap(), Command::Quit);
    assert_eq!(
        parse("MAIL FROM:<a@b> SIZE=1 ").unwrap(),
        parse("MAIL FROM:<a@b> SIZE=1").unwrap()
    );
    assert_eq!(parse("HELP ").unwrap(), Command::Help { arg: None });
    let strict = ParseOptions {
        allow_trailing_whitespace: false,
        ..ParseOptions::default()
    };
    let line = Bytes::from_static(b"QUIT ");
    assert_eq!(
        Command::parse_with(&line, &strict),
        Err(CommandError::UnexpectedArgument { verb: "QUIT" })
    );
    let line = Bytes::from_static(b"MAIL FROM:<a@b> ");
    assert!(Command::parse_with(&line, &strict).is_err());
    let line = Bytes::from_static(b"NOOP x ");
    assert!(Command::parse_with(&line, &strict).is_err());
    assert_eq!(parse("   "), Err(CommandError::Empty));
}

#[test]
fn mail_parameters_in_any_order() {
    let line = "MAIL FROM:<a@b> REQUIRETLS BY=120;RT HOLDFOR=60 MT-PRIORITY=-3 AUTH=<> \
                ENVID=QQ+2B314 RET=HDRS SMTPUTF8 BODY=BINARYMIME SIZE=1000 X-FOO X-BAR=baz";
    let Command::Mail { params, .. } = parse(line).unwrap() else {
        panic!()
    };
    assert_eq!(params.size, Some(1000));
    assert_eq!(params.body, Some(BodyType::BinaryMime));
    assert!(params.smtputf8 && params.requiretls);
    assert_eq!(params.ret, Some(Ret::Headers));
    assert_eq!(params.envid.as_ref().unwrap().as_str(), "QQ+314");
    assert_eq!(params.auth, Some(AuthParam::Unknown));
    assert_eq!(params.mt_priority.unwrap().get(), -3);
    assert_eq!(params.hold, Some(FutureRelease::For(60)));
    let by = params.by.unwrap();
    assert_eq!(
        (by.time(), by.mode(), by.trace()),
        (120, ByMode::Return, true)
    );
    let other: Vec<String> = params.other.iter().map(ToString::to_string).collect();
    assert_eq!(other, ["X-FOO", "X-BAR=baz"]);
    roundtrip(
        line,
        "MAIL FROM:<a@b> SIZE=1000 BODY=BINARYMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B314 AUTH=<> \
         MT-PRIORITY=-3 HOLDFOR=60 BY=120;RT REQUIRETLS X-FOO X-BAR=baz",
    );
    roundtrip(
        "mail from:<a@b> size=5 body=8bitmime",
        "MAIL FROM:<a@b> SIZE=5 BODY=8BITMIME",
    );
}

#[test]
fn auth_parameter_is_an_xtext_mailbox() {
    let Command::Mail { params, .. } = parse("MAIL FROM:<a@b> AUTH=e+2Bx+3Dy@example.org").unwrap()
    else {
        panic!()
    };
    let Some(AuthParam::Mailbox(mailbox)) = &params.auth else {
        panic!()
    };
    assert_eq!(mailbox.local_part().as_str(), "e+x=y");
    roundtrip(
        "MAIL FROM:<a@b> AUTH=e+2Bx+3Dy@example.org",
        "MAIL FROM:<a@b> AUTH=e+2Bx+3Dy@example.org",
    );
    // CVE-2020-28021: a decoded line break must not get through.
    assert!(matches!(
        parse("MAIL FROM:<> AUTH=x+0AReceived:+20y"),
        Err(CommandError::Parameter(ParamError::Encoding {
            keyword: "AUTH",
            ..
        }))
    ));
    assert!(matches!(
        parse("MAIL FROM:<> AUTH=nodomain"),
        Err(CommandError::Parameter(ParamError::Address {
            keyword: "AUTH",
            ..
        }))
    ));
}

#[test]
fn parameter_errors_name_the_keyword() {
    let error = |line: &str| match parse(line) {
        Err(CommandError::Parameter(err)) => err,
        other => panic!("{line}: {other:?}"),
    };
    let invalid = |keyword| ParamError::InvalidValue { keyword };
    assert_eq!(error("MAIL FROM:<> SIZE=12a"), invalid("SIZE"));
    assert_eq!(
        error("MAIL FROM:<> SIZE=184467440737095516160"),
        invalid("SIZE")
    );
    assert_eq!(
        error("MAIL FROM:<> SIZE"),
        ParamError::MissingValue { keyword: "SIZE" }
    );
    assert_eq!(error("MAIL FROM:<> BODY=9BIT"), invalid("BODY"));
    assert_eq!(
        error("MAIL FROM:<> SMTPUTF8=yes"),
        ParamError::UnexpectedValue {
            keyword: "SMTPUTF8"
        }
    );
    assert_eq!(error("MAIL FROM:<> RET=ALL"), invalid("RET"));
    assert_eq!(error("MAIL FROM:<> MT-PRIORITY=10"), invalid("MT-PRIORITY"));
    assert_eq!(error("MAIL FROM:<> HOLDFOR=1000000000"), invalid("HOLDFOR"));
    assert_eq!(
        error("MAIL FROM:<> HOLDUNTIL=2026-02-30T25:00:00Z"),
        invalid("HOLDUNTIL")
    );
    assert_eq!(error("MAIL FROM:<> BY=10;X"), invalid("BY"));
    assert_eq!(error("MAIL FROM:<> BY=1000000000;R"), invalid("BY"));
    assert_eq!(
        error(&alloc::format!("MAIL FROM:<> ENVID={}", "a".repeat(101))),
        invalid("ENVID")
    );
    assert_eq!(error("RCPT TO:<a@b> NOTIFY=NEVER,DELAY"), invalid("NOTIFY"));
    assert_eq!(error("RCPT TO:<a@b> NOTIFY=SOMETIMES"), invalid("NOTIFY"));
    assert_eq!(error("RCPT TO:<a@b> ORCPT=rfc822"), invalid("ORCPT"));
    assert_eq!(error("MAIL FROM:<> =x"), ParamError::InvalidKeyword);
    assert_eq!(error("MAIL FROM:<> -X"), ParamError::InvalidKeyword);
    assert!(matches!(
        error("MAIL FROM:<> X=a=b"),
        ParamError::InvalidSyntax { .. }
    ));
    assert!(matches!(
        error("MAIL FROM:<> X="),
        ParamError::InvalidSyntax { .. }
    ));
    assert_eq!(
        error("MAIL FROM:<> HOLDFOR=1 HOLDUNTIL=2026-01-01T00:00:00Z"),
        ParamError::Conflict {
            first: "HOLDFOR",
            second: "HOLDUNTIL"
        }
    );
}

#[test]
fn duplicate_parameters_are_rejected() {
    for (line, keyword) in [
        ("MAIL FROM:<> SIZE=1 size=2", "SIZE"),
        ("MAIL FROM:<> SMTPUTF8 SMTPUTF8", "SMTPUTF8"),
        ("MAIL FROM:<> REQUIRETLS BODY=7BIT REQUIRETLS", "REQUIRETLS"),
        ("MAIL FROM:<> HOLDFOR=1 HOLDFOR=2", "HOLDFOR"),
        ("RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", "NOTIFY"),
        ("RCPT TO:<a@b> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", "ORCPT"),
    ] {
        assert_eq!(
            parse(line),
            Err(CommandError::Parameter(ParamError::Duplicate { keyword })),
            "{line}"
        );
    }
}

#[test]
fn rcpt_parameters() {
    let Command::Rcpt { params, .. } = roundtrip(
        "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@b",
        "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@b",
    ) else {
        panic!()
    };
    let Some(Notify::On(on)) = params.notify else {
        panic!()
    };
    assert!(on.success() && on.failure() && !on.delay());
    let orcpt = params.orcpt.unwrap();
    assert_eq!(*orcpt.addr_type(), OrcptType::Rfc822);
    assert_eq!(orcpt.address().as_str(), "a+x@b");
    roundtrip(
        "RCPT TO:<a@b> notify=delay,success",
        "RCPT TO:<a@b> NOTIFY=SUCCESS,DELAY",
    );
    let Command::Rcpt { params, .. } = roundtrip(
        r"RCPT TO:<a@b> ORCPT=utf-8;j\x{F6}e@example.com",
        r"RCPT TO:<a@b> ORCPT=utf-8;j\x{F6}e@example.com",
    ) else {
        panic!()
    };
    assert_eq!(params.orcpt.unwrap().address().as_str(), "jöe@example.com");
    // The unitext form decodes to the same value and is written as xtext.
    roundtrip(
        "RCPT TO:<a@b> ORCPT=UTF-8;jöe@example.com",
        r"RCPT TO:<a@b> ORCPT=utf-8;j\x{F6}e@example.com",
    );
    roundtrip(
        "RCPT TO:<a@b> ORCPT=x400;abc",
        "RCPT TO:<a@b> ORCPT=x400;abc",
    );
}

#[test]
fn bdat() {
    assert_eq!(roundtrip("BDAT 0", "BDAT 0"), Command::bdat(0, false));
    assert_eq!(
        roundtrip(
            "BDAT 18446744073709551615 LAST",
            "BDAT 18446744073709551615 LAST"
        ),
        Command::bdat(u64::MAX, true)
    );
    assert_eq!(
        parse("BDAT 18446744073709551616"),
        Err(CommandError::BdatSizeOverflow)
    );
    assert_eq!(
        parse(&alloc::format!("BDAT {}", "9".repeat(1000))),
        Err(CommandError::BdatSizeOverflow)
    );
    for bad in [
        "BDAT",
        "BDAT x",
        "BDAT 1 FIRST",
        "BDAT 1LAST",
        "BDAT -1",
        "BDAT 1 LAST x",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn auth() {
    let Command::Auth {
        mechanism,
        initial_response,
    } = roundtrip("AUTH PLAIN", "AUTH PLAIN")
    else {
        panic!()
    };
    assert_eq!(mechanism, Mechanism::Plain);
    assert_eq!(initial_response, None);
    // Mechanism names are case-insensitive (RFC 4422 §3.1) and written in
    // upper case.
    let Command::Auth { mechanism, .. } = roundtrip("auth scram-sha-256", "AUTH SCRAM-SHA-256")
    else {
        panic!()
    };
    assert_eq!(mechanism, Mechanism::ScramSha256);
    assert_eq!(mechanism.is_implemented(), cfg!(feature = "scram"));
    let Command::Auth { mechanism, .. } = roundtrip("AUTH CRAM-MD5 =", "AUTH CRAM-MD5 =") else {
        panic!()
    };
    assert!(!mechanism.is_implemented());
    let Command::Auth {
        initial_response, ..
    } = roundtrip("AUTH PLAIN =", "AUTH PLAIN =")
    else {
        panic!()
    };
    assert!(initial_response.unwrap().is_empty());
    let Command::Auth {
        initial_response, ..
    } = roundtrip(
        "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
        "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    )
    else {
        panic!()
    };
    assert_eq!(
        initial_response.unwrap().as_base64(),
        Some("AGFsaWNlAHNlY3JldA==")
    );
    let debug = alloc::format!("{:?}", parse("AUTH PLAIN AGFsaWNlAHNlY3JldA==").unwrap());
    assert!(!debug.contains("AGFsaWNl"), "{debug}");
    assert_eq!(
        parse("AUTH"),
        Err(CommandError::MissingArgument { verb: "AUTH" })
    );
    assert_eq!(
        parse("AUTH PL@IN"),
        Err(CommandError::InvalidMechanism(
            MechanismError::InvalidByte { byte: b'@' }
        ))
    );
    assert_eq!(
        parse("AUTH ABCDEFGHIJKLMNOPQRSTU"),
        Err(CommandError::InvalidMechanism(MechanismError::TooLong))
    );
    assert_eq!(
        parse("AUTH PLAIN abc"),
        Err(CommandError::InvalidInitialResponse)
    );
    assert_eq!(
        parse("AUTH PLAIN a=bc"),
        Err(CommandError::InvalidInitialResponse)
    );
    assert_eq!(
        parse("AUTH PLAIN ab=="),
        Ok(Command::auth(
            Mechanism::Plain,
            Some(InitialResponse::base64("ab==").unwrap())
        ))
    );
}

#[test]
fn free_text_arguments() {
    roundtrip("VRFY <Smith@bar.com>", "VRFY <Smith@bar.com>");
    roundtrip("VRFY \"John Smith\"", "VRFY \"John Smith\"");
    roundtrip("HELP MAIL", "HELP MAIL");
    roundtrip("NOOP anything at all", "NOOP anything at all");
    roundtrip("ETRN @example.org", "ETRN @example.org");
    assert_eq!(
        parse("VRFY"),
        Err(CommandError::MissingArgument { verb: "VRFY" })
    );
    assert_eq!(
        parse("EXPN"),
        Err(CommandError::MissingArgument { verb: "EXPN" })
    );
    assert_eq!(
        parse("DATA x"),
        Err(CommandError::UnexpectedArgument { verb: "DATA" })
    );
    assert!(Argument::new(" x").is_err());
    assert!(Argument::new("").is_err());
    assert!(Argument::new("a\r\nRSET").is_err());
}

#[test]
fn unknown_verbs_are_not_errors() {
    let command = roundtrip(
        "XCLIENT NAME=spike.porcupine.org",
        "XCLIENT NAME=spike.porcupine.org",
    );
    assert_eq!(command.verb(), "XCLIENT");
    roundtrip("GET / HTTP/1.1", "GET / HTTP/1.1");
    roundtrip("MAILX", "MAILX");
    assert!(UnknownVerb::new("mail").is_err());
    assert!(UnknownVerb::new("X Y").is_err());
    assert_eq!(
        Command::Unknown {
            verb: UnknownVerb::new("XFOO").unwrap(),
            args: None
        }
        .to_bytes(),
        &b"XFOO\r\n"[..]
    );
}

#[test]
fn forbidden_bytes_and_encodings() {
    assert_eq!(
        Command::parse_slice(b"MAIL FROM:<a\0@b>"),
        Err(CommandError::ForbiddenByte {
            byte: 0,
            offset: 12
        })
    );
    assert_eq!(
        Command::parse_slice(b"RCPT TO:<a@b>\rRSET"),
        Err(CommandError::ForbiddenByte {
            byte: b'\r',
            offset: 13
        })
    );
    assert_eq!(
        Command::parse_slice(b"NOOP \xff"),
        Err(CommandError::InvalidUtf8 { offset: 5 })
    );
    assert_eq!(parse(""), Err(CommandError::Empty));
    assert_eq!(parse("").unwrap_err().reply_code().as_u16(), 500);
}

#[test]
fn over_long_addresses() {
    let local = "a".repeat(257);
    let error = parse(&alloc::format!("MAIL FROM:<{local}@b>")).unwrap_err();
    assert_eq!(
        error,
        CommandError::ReversePath(AddressError::LocalPartTooLong { len: 257 })
    );
    assert_eq!(
        (
            error.reply_code().as_u16(),
            error.enhanced_status().to_string()
        ),
        (501, "5.1.7".to_string())
    );
    let label = "d".repeat(63);
    let domain = [label.as_str(); 5].join(".");
    let error = parse(&alloc::format!("RCPT TO:<a@{domain}>")).unwrap_err();
    assert!(matches!(
        error,
        CommandError::ForwardPath(
            AddressError::DomainTooLong { .. } | AddressError::PathTooLong { .. }
        )
    ));
    let domain = [
        "d".repeat(63),
        "d".repeat(63),
        "d".repeat(63),
        "d".repeat(10),
    ]
    .join(".");
    let error = parse(&alloc::format!("RCPT TO:<{}@{domain}>", "a".repeat(60))).unwrap_err();
    assert!(matches!(
        error,
        CommandError::ForwardPath(AddressError::PathTooLong { .. })
    ));
    let error = parse("RCPT TO:<a b@c>").unwrap_err();
    assert_eq!(
        (
            error.reply_code().as_u16(),
            error.enhanced_status().to_string()
        ),
        (553, "5.1.3".to_string())
    );
}

#[test]
fn reply_codes() {
    assert_eq!(
        parse("MAIL FROM:<> SIZE=x")
            .unwrap_err()
            .reply_code()
            .as_u16(),
        501
    );
    assert_eq!(
        parse("MAIL FROM:<> SIZE=x")
            .unwrap_err()
            .enhanced_status()
            .to_string(),
        "5.5.4"
    );
    assert_eq!(parse("MAIL TO:<>").unwrap_err().reply_code().as_u16(), 501);
    assert_eq!(
        parse("MAIL FROM:<a>").unwrap_err().reply_code().as_u16(),
        553
    );
}

#[test]
fn constructed_commands_emit() {
    let mailbox = Mailbox::new(
        LocalPart::from_value("john doe").unwrap(),
        Host::Domain(Domain::parse("example.com").unwrap()),
    )
    .unwrap();
    let params = MailParameters {
        other: alloc::vec![crate::params::Parameter::new("X-A", Some("1")).unwrap()],
        ..MailParameters::default()
    };
    assert_eq!(
        crate::params::Parameter::new("size", Some("1")),
        Err(ParamError::Typed { keyword: "SIZE" })
    );
    let command = Command::mail(mailbox.into(), params);
    assert_eq!(
        emitted(&command),
        "MAIL FROM:<\"john doe\"@example.com> X-A=1\r\n"
    );
    assert_eq!(
        Command::ehlo(Domain::parse("a.b").unwrap()).to_bytes(),
        &b"EHLO a.b\r\n"[..]
    );
}

#[test]
fn parsed_text_shares_the_line() {
    let line = Bytes::from_static(b"RCPT TO:<user@example.org> X-TAG=v");
    let Command::Rcpt { to, params } = Command::parse(&line).unwrap() else {
        panic!()
    };
    let local = to.mailbox().unwrap().local_part();
    assert_eq!(local.as_text().as_bytes().as_ptr(), line[9..].as_ptr());
    assert_eq!(
        params.other[0].value().unwrap().as_bytes().as_ptr(),
        line[33..].as_ptr()
    );
}

#[test]
fn the_verb_table_knows_each_verb_in_any_case_and_nothing_else() {
    use super::parse::{known_verb, Verb};
    let names: [(&str, Verb); 16] = [
        ("MAIL", Verb::Mail),
        ("RCPT", Verb::Rcpt),
        ("EHLO", Verb::Ehlo),
        ("DATA", Verb::Data),
        ("RSET", Verb::Rset),
        ("QUIT", Verb::Quit),
        ("BDAT", Verb::Bdat),
        ("NOOP", Verb::Noop),
        ("HELO", Verb::Helo),
        ("LHLO", Verb::Lhlo),
        ("AUTH", Verb::Auth),
        ("VRFY", Verb::Vrfy),
        ("EXPN", Verb::Expn),
        ("HELP", Verb::Help),
        ("ETRN", Verb::Etrn),
        ("STARTTLS", Verb::StartTls),
    ];
    for (name, verb) in names {
        // Every mix of cases: one bit per letter.
        for mask in 0u32..1 << name.len() {
            let mixed: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask & 1 << i != 0 {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect();
            assert_eq!(known_verb(mixed.as_bytes()), Some(verb), "{mixed}");
        }
    }
    // Every four-letter word one byte away from a verb is another verb or
    // none: the table matches whole words, not slots.
    for (name, _) in names {
        for at in 0..name.len() {
            for byte in 0..=255u8 {
                let mut near = name.as_bytes().to_vec();
                near[at] = byte;
                let expected = names
                    .iter()
                    .find(|(other, _)| other.as_bytes().eq_ignore_ascii_case(&near))
                    .map(|&(_, verb)| verb);
                assert_eq!(known_verb(&near), expected, "{near:?}");
            }
        }
    }
}

#[test]
fn orcpt_address_types_are_ascii_atoms() {
    let Command::Rcpt { params, .. } = roundtrip(
        "RCPT TO:<a@b> ORCPT=x-local!#$%&'*+-/?^_`{|}~1;a@b",
        "RCPT TO:<a@b> ORCPT=x-local!#$%&'*+-/?^_`{|}~1;a@b",
    ) else {
        panic!()
    };
    // Every atext but `=`, which no esmtp-value holds.
    assert!(matches!(
        params.orcpt.unwrap().addr_type(),
        OrcptType::Other(atom) if atom.as_str() == "x-local!#$%&'*+-/?^_`{|}~1"
    ));
    for bad in ["x.y", "x(y)", "x@y", "ünï", "x\"y", "x,y", ""] {
        let line = alloc::format!("RCPT TO:<a@b> ORCPT={bad};a@b");
        assert!(parse(&line).is_err(), "{line}");
    }
}
