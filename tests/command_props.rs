//! Property tests: every valid command, address and parameter set reads back
//! from its wire form unchanged, and no input makes the parser panic.

use base64::Engine as _;
use bytes::Bytes;
use proptest::prelude::*;
use smtpwire::*;

fn domain() -> impl Strategy<Value = Domain> {
    let label = "([a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?|[a-zü]{0,3}ü[a-z0-9]{0,3})";
    proptest::string::string_regex(&format!("{label}(\\.{label}){{0,3}}"))
        .unwrap()
        .prop_map(|s| Domain::parse(&s).unwrap())
}

/// Hello names are ASCII (RFC 6531 §3.7.1).
fn ascii_domain() -> impl Strategy<Value = Domain> {
    domain().prop_filter("ASCII", |domain| domain.as_str().is_ascii())
}

fn ascii_host() -> impl Strategy<Value = Host> {
    prop_oneof![
        ascii_domain().prop_map(Host::Domain),
        literal().prop_map(Host::Literal)
    ]
}

fn literal() -> impl Strategy<Value = AddressLiteral> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| AddressLiteral::V4(o.into())),
        any::<[u16; 8]>().prop_map(|g| AddressLiteral::V6(g.into())),
        any::<[u8; 4]>()
            .prop_map(|o| AddressLiteral::V6(std::net::Ipv4Addr::from(o).to_ipv6_mapped())),
        ("[a-z][a-z0-9-]{0,5}[a-z0-9]", "[!-Z^-~]{1,10}")
            .prop_filter("IPv6 tag", |(t, _)| !t.eq_ignore_ascii_case("ipv6"))
            .prop_map(|(t, c)| AddressLiteral::general(&t, &c).unwrap()),
    ]
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        domain().prop_map(Host::Domain),
        literal().prop_map(Host::Literal)
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    ("[ -~éü]{0,20}", host()).prop_filter_map("fits", |(value, host)| {
        Mailbox::new(LocalPart::from_value(&value).ok()?, host).ok()
    })
}

fn mail_params() -> impl Strategy<Value = MailParameters> {
    let typed = (
        any::<Option<u64>>(),
        prop::option::of(prop_oneof![
            Just(BodyType::SevenBit),
            Just(BodyType::EightBitMime),
            Just(BodyType::BinaryMime)
        ]),
        any::<(bool, bool)>(),
        prop::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Headers)]),
        prop::option::of("[ -~]{1,40}".prop_map(|s| EnvelopeId::new(&s).unwrap())),
        prop::option::of(prop_oneof![
            Just(AuthParam::Unknown),
            mailbox().prop_map(AuthParam::Mailbox)
        ]),
        prop::option::of((-9i8..=9).prop_map(|p| MtPriority::new(p).unwrap())),
        prop::option::of(prop_oneof![
            (0u32..=999_999_999).prop_map(FutureRelease::For),
            (
                1000u32..9999,
                1u32..=12,
                1u32..=28,
                0u32..24,
                0u32..60,
                0u32..=60
            )
                .prop_map(|(y, mo, d, h, mi, s)| FutureRelease::Until(
                    HoldUntil::new(&format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"))
                        .unwrap()
                )),
        ]),
        prop::option::of(
            (-999_999_999i32..=999_999_999, any::<bool>(), any::<bool>()).prop_map(|(t, r, tr)| {
                let mode = if r { ByMode::Return } else { ByMode::Notify };
                DeliverBy::new(t, mode, tr).unwrap()
            }),
        ),
    );
    (typed, others()).prop_map(
        |(
            (size, body, (smtputf8, requiretls), ret, envid, auth, mt_priority, hold, by),
            others,
        )| {
            MailParameters {
                size,
                body,
                smtputf8,
                ret,
                envid,
                auth,
                mt_priority,
                hold,
                by,
                requiretls,
                other: others,
            }
        },
    )
}

fn others() -> impl Strategy<Value = Vec<Parameter>> {
    prop::collection::vec(
        ("X-[A-Z0-9-]{0,6}", prop::option::of("[!-<>-~é]{1,8}"))
            .prop_map(|(k, v)| Parameter::new(&k, v.as_deref()).unwrap()),
        0..3,
    )
}

fn rcpt_params() -> impl Strategy<Value = RcptParameters> {
    let notify = prop::option::of(prop_oneof![
        Just(Notify::Never),
        any::<(bool, bool, bool)>()
            .prop_filter_map("empty", |(s, f, d)| NotifyOn::new(s, f, d).map(Notify::On)),
    ]);
    let orcpt = prop::option::of(prop_oneof![
        "[ -~]{1,30}".prop_map(|a| Orcpt::new(OrcptType::Rfc822, &a).unwrap()),
        "[ -~éü用]{1,30}".prop_map(|a| Orcpt::new(OrcptType::Utf8, &a).unwrap()),
        ("x[a-z0-9]{1,4}", "[ -~]{1,30}").prop_map(|(t, a)| {
            Orcpt::new(OrcptType::Other(Text::new(&t).unwrap()), &a).unwrap()
        }),
    ]);
    (notify, orcpt, others()).prop_map(|(notify, orcpt, others)| RcptParameters {
        notify,
        orcpt,
        other: others,
    })
}

fn argument() -> impl Strategy<Value = Argument> {
    "[!-~é]([ -~é]{0,12}[!-~é])?".prop_map(|s| Argument::new(&s).unwrap())
}

fn command() -> impl Strategy<Value = Command> {
    let reverse = prop_oneof![
        Just(ReversePath::Null),
        mailbox().prop_map(ReversePath::Mailbox)
    ];
    let forward = prop_oneof![
        Just(ForwardPath::Postmaster),
        mailbox().prop_map(ForwardPath::Mailbox)
    ];
    let response = prop::option::of(prop_oneof![
        Just(InitialResponse::empty()),
        prop::collection::vec(any::<u8>(), 1..40).prop_map(|raw| {
            InitialResponse::base64(&base64::engine::general_purpose::STANDARD.encode(raw)).unwrap()
        }),
    ]);
    prop_oneof![
        ascii_domain().prop_map(Command::helo),
        ascii_host().prop_map(Command::ehlo),
        ascii_host().prop_map(Command::lhlo),
        (reverse, mail_params()).prop_map(|(from, params)| Command::mail(from, params)),
        (forward, rcpt_params()).prop_map(|(to, params)| Command::rcpt(to, params)),
        Just(Command::Data),
        Just(Command::Rset),
        Just(Command::Quit),
        Just(Command::StartTls),
        any::<(u64, bool)>().prop_map(|(size, last)| Command::bdat(size, last)),
        argument().prop_map(|arg| Command::Vrfy { arg }),
        argument().prop_map(|arg| Command::Expn { arg }),
        argument().prop_map(|arg| Command::Etrn { arg }),
        prop::option::of(argument()).prop_map(|arg| Command::Help { arg }),
        prop::option::of(argument()).prop_map(|arg| Command::Noop { arg }),
        ("[A-Z0-9_-]{1,20}", response).prop_map(|(mechanism, response)| {
            Command::auth(
                auth::Mechanism::parse(mechanism.as_bytes()).unwrap(),
                response,
            )
        }),
        ("X[A-Z]{1,6}", prop::option::of(argument())).prop_map(|(verb, args)| Command::Unknown {
            verb: UnknownVerb::new(&verb).unwrap(),
            args,
        }),
    ]
}

fn reparse(command: &Command) -> Result<Command, CommandError> {
    let wire = command.to_bytes();
    assert!(wire.ends_with(b"\r\n"));
    let line = wire.slice(..wire.len() - 2);
    assert!(!line.contains(&b'\r') && !line.contains(&b'\n'));
    Command::parse(&line)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn commands_roundtrip(command in command()) {
        prop_assert_eq!(reparse(&command), Ok(command));
    }

    #[test]
    fn mailboxes_roundtrip(mailbox in mailbox()) {
        prop_assert_eq!(Mailbox::parse(&mailbox.to_string()), Ok(mailbox.clone()));
        let path = ReversePath::Mailbox(mailbox);
        prop_assert_eq!(ReversePath::parse(&path.to_string()), Ok(path));
    }

    #[test]
    fn local_parts_keep_their_value(value in "[ -~éü]{0,30}") {
        if let Ok(part) = LocalPart::from_value(&value) {
            prop_assert_eq!(part.value(), value.as_str());
            prop_assert_eq!(LocalPart::parse(part.as_str()), Ok(part));
        }
    }

    #[test]
    fn xtext_roundtrips(value in prop::collection::vec(any::<u8>(), 0..40), text in "\\PC{1,20}") {
        let encoded = xtext::Xtext(&value).to_string();
        prop_assert_eq!(&*xtext::decode(encoded.as_bytes()).unwrap(), &value[..]);
        let encoded = xtext::Utf8AddrXtext(&text).to_string();
        prop_assert!(encoded.is_ascii());
        prop_assert_eq!(xtext::decode_utf8_addr(&encoded).unwrap(), text.as_str());
        let encoded = xtext::Utf8AddrUnitext(&text).to_string();
        prop_assert_eq!(xtext::decode_utf8_addr(&encoded).unwrap(), text.as_str());
    }

    #[test]
    fn parse_never_panics(line in prop::collection::vec(any::<u8>(), 0..300)) {
        let line = Bytes::from(line);
        let _ = Command::parse(&line);
        let _ = Command::parse_with(&line, &ParseOptions::LENIENT);
        let _ = Mailbox::parse_bytes(&line);
        let _ = ForwardPath::parse_bytes(&line);
    }

    #[test]
    fn parse_never_panics_on_near_commands(
        verb in prop_oneof![Just("MAIL FROM:"), Just("RCPT TO:"), Just("EHLO "), Just("BDAT "), Just("AUTH ")],
        tail in "[ -~\t\u{80}-\u{10FFFF}]{0,80}",
    ) {
        let line = Bytes::from(format!("{verb}{tail}"));
        if let Ok(command) = Command::parse(&line) {
            prop_assert_eq!(reparse(&command), Ok(command));
        }
        if let Ok(command) = Command::parse_with(&line, &ParseOptions::LENIENT) {
            prop_assert_eq!(reparse(&command), Ok(command));
        }
    }
}
