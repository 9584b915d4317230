//! From one command line to a [`Command`].

use super::{is_base64, Argument, Command, CommandError, InitialResponse, UnknownVerb};
use crate::address::domain::{scan_domain, scan_host};
use crate::address::mailbox::{scan_forward_path, scan_reverse_path};
use crate::address::{no_case, octet, octets1, piece, AddressError};
use crate::auth::Mechanism;
use crate::framing::FramedLine;
use crate::params::{MailParameters, RcptParameters};
use crate::text::check_line_text;
use bytes::Bytes;
use nom::branch::alt;
use nom::character::complete::digit1;
use nom::combinator::{all_consuming, map, value, verify};
use nom::{IResult, Parser};

/// How strictly [`Command::parse_with`] reads a line.
///
/// The default follows RFC 5321 to the letter, including its one request for
/// tolerance: §4.1.1 says receivers SHOULD accept trailing white space before
/// the CRLF, so `allow_trailing_whitespace` is on by default (the emitter never
/// writes any). Everything else that real clients get wrong is off until a
/// caller turns it on by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Ignore spaces and tabs at the end of the line (RFC 5321 §4.1.1).
    pub allow_trailing_whitespace: bool,
    /// Accept `MAIL FROM: <…>` and `RCPT TO: <…>`, with spaces after the
    /// colon, which RFC 5321 §4.1.1.2 does not allow but many clients send
    /// and Postfix, Exim and Sendmail accept.
    pub allow_space_after_colon: bool,
    /// Accept runs of spaces between the verb, its arguments and parameters,
    /// where RFC 5321 has exactly one.
    pub allow_extra_spaces: bool,
}

impl ParseOptions {
    /// RFC 5321 as written: the default.
    pub const RFC5321: ParseOptions = ParseOptions {
        allow_trailing_whitespace: true,
        allow_space_after_colon: false,
        allow_extra_spaces: false,
    };

    /// Every tolerance on, close to what Postfix accepts.
    pub const LENIENT: ParseOptions = ParseOptions {
        allow_trailing_whitespace: true,
        allow_space_after_colon: true,
        allow_extra_spaces: true,
    };
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions::RFC5321
    }
}

/// The verbs with a [`Command`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Helo,
    Ehlo,
    Lhlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Vrfy,
    Expn,
    Help,
    Noop,
    Quit,
    StartTls,
    Auth,
    Etrn,
}

/// A four-letter verb folded to lower case as a little-endian number.
const fn folded(verb: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*verb) | 0x2020_2020
}

/// Length of the verb at the start of a non-empty line: up to the first
/// space. Nearly every verb is four letters, which is checked first.
#[inline]
fn verb_len(input: &[u8]) -> usize {
    match input {
        [a, b, c, d] | [a, b, c, d, b' ', ..]
            if *a != b' ' && *b != b' ' && *c != b' ' && *d != b' ' =>
        {
            4
        }
        _ => memchr::memchr(b' ', input).unwrap_or(input.len()),
    }
}

/// The four-letter verbs with a [`Command`] variant, in lower case.
const FOUR_LETTER_VERBS: [(&[u8; 4], Verb); 15] = [
    (b"mail", Verb::Mail),
    (b"rcpt", Verb::Rcpt),
    (b"ehlo", Verb::Ehlo),
    (b"data", Verb::Data),
    (b"rset", Verb::Rset),
    (b"quit", Verb::Quit),
    (b"bdat", Verb::Bdat),
    (b"noop", Verb::Noop),
    (b"helo", Verb::Helo),
    (b"lhlo", Verb::Lhlo),
    (b"auth", Verb::Auth),
    (b"vrfy", Verb::Vrfy),
    (b"expn", Verb::Expn),
    (b"help", Verb::Help),
    (b"etrn", Verb::Etrn),
];

/// The slot of a folded four-letter verb in [`VERB_SLOTS`]: a
/// multiplicative hash under which each known verb has a slot of its own.
const fn verb_slot(folded: u32) -> usize {
    (folded.wrapping_mul(0x38f4_f0f5) >> 28) as usize
}

/// Each known four-letter verb, folded, in its slot; building the table
/// fails to compile if two verbs ever shared one.
const VERB_SLOTS: [(u32, Option<Verb>); 16] = {
    let mut slots = [(0, None); 16];
    let mut i = 0;
    while i < FOUR_LETTER_VERBS.len() {
        let (name, verb) = FOUR_LETTER_VERBS[i];
        let slot = verb_slot(folded(name));
        assert!(slots[slot].1.is_none(), "two verbs share a slot");
        slots[slot] = (folded(name), Some(verb));
        i += 1;
    }
    slots
};

/// Which known verb `verb` is, in any case: the verbs of RFC 5321 §4.1.1
/// (`"EHLO"`, `"MAIL FROM:"`…), RFC 2033's LHLO, RFC 3030's BDAT, RFC 3207's
/// STARTTLS, RFC 4954's AUTH and RFC 1985's ETRN.
///
/// This rule stays hand-written: one look-up of the four letters folded to
/// lower case, against sixteen `tag_no_case` alternatives in nom, which
/// measured 50–57 ns per verb against 3–5 ns on the broad corpus's verb mix,
/// a quarter of the time a whole command takes to parse. A table rather
/// than a chain of comparisons leaves no branch to mispredict on a mix of
/// verbs.
pub(crate) fn known_verb(verb: &[u8]) -> Option<Verb> {
    let Ok(four) = <[u8; 4]>::try_from(verb) else {
        return verb
            .eq_ignore_ascii_case(b"STARTTLS")
            .then_some(Verb::StartTls);
    };
    // Or-ing 0x20 lower-cases letters; a non-letter can only fold onto a
    // letter from the other case of that letter, so this is exact.
    let folded = folded(&four);
    match VERB_SLOTS[verb_slot(folded)] {
        (name, verb) if name == folded => verb,
        _ => None,
    }
}

impl Command {
    /// Parses one command line, without its CRLF, under
    /// [`ParseOptions::default`].
    pub fn parse(line: &Bytes) -> Result<Command, CommandError> {
        Command::parse_with(line, &ParseOptions::RFC5321)
    }

    /// Parses a line given as a byte slice, copying it once.
    pub fn parse_slice(line: &[u8]) -> Result<Command, CommandError> {
        Command::parse(&Bytes::copy_from_slice(line))
    }

    /// Parses one command line, without its CRLF. The text in the result
    /// shares `line`'s buffer.
    pub fn parse_with(line: &Bytes, options: &ParseOptions) -> Result<Command, CommandError> {
        Command::parse_in(line, line, options)
    }

    /// Parses a line lent out by [`LineFramer::next_framed`]: the text in
    /// the result shares the framer's buffer, and the line itself is never
    /// made into a [`Bytes`] of its own.
    ///
    /// ```
    /// use smtpwire::framing::{LineFramer, LineEndPolicy};
    /// use smtpwire::command::ParseOptions;
    /// use smtpwire::Command;
    ///
    /// let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
    /// framer.push(b"RCPT TO:<bob@example.net>\r\n");
    /// let line = framer.next_framed().unwrap().unwrap();
    /// let command = Command::parse_framed(line, &ParseOptions::default()).unwrap();
    /// assert_eq!(command.to_string(), "RCPT TO:<bob@example.net>");
    /// ```
    ///
    /// [`LineFramer::next_framed`]: crate::framing::LineFramer::next_framed
    pub fn parse_framed(
        line: FramedLine<'_>,
        options: &ParseOptions,
    ) -> Result<Command, CommandError> {
        Command::parse_in(line.block(), line.as_bytes(), options)
    }

    /// Parses `line`, a slice of `src` that pieces of the result share.
    #[inline]
    fn parse_in(src: &Bytes, line: &[u8], options: &ParseOptions) -> Result<Command, CommandError> {
        check_line_text(line)?;
        let mut input: &[u8] = line;
        if options.allow_trailing_whitespace {
            while let [rest @ .., b' ' | b'\t'] = input {
                input = rest;
            }
        }
        if input.is_empty() {
            return Err(CommandError::Empty);
        }
        let (verb, rest) = input.split_at(verb_len(input));
        let parser = LineParser { src, options };
        let Some(known) = known_verb(verb) else {
            let args = parser.optional_arg(rest, "unknown command")?;
            return Ok(Command::Unknown {
                verb: UnknownVerb(piece(src, verb)),
                args,
            });
        };
        match known {
            Verb::Helo => parser.helo(rest),
            Verb::Ehlo => Ok(Command::Ehlo {
                host: parser.host(rest, "EHLO")?,
            }),
            Verb::Lhlo => Ok(Command::Lhlo {
                host: parser.host(rest, "LHLO")?,
            }),
            Verb::Mail => parser.mail(rest),
            Verb::Rcpt => parser.rcpt(rest),
            Verb::Data => parser.bare(rest, "DATA").map(|()| Command::Data),
            Verb::Rset => parser.bare(rest, "RSET").map(|()| Command::Rset),
            Verb::Quit => parser.bare(rest, "QUIT").map(|()| Command::Quit),
            Verb::StartTls => parser.bare(rest, "STARTTLS").map(|()| Command::StartTls),
            Verb::Bdat => parser.bdat(rest),
            Verb::Vrfy => Ok(Command::Vrfy {
                arg: parser.required_arg(rest, "VRFY")?,
            }),
            Verb::Expn => Ok(Command::Expn {
                arg: parser.required_arg(rest, "EXPN")?,
            }),
            Verb::Etrn => Ok(Command::Etrn {
                arg: parser.required_arg(rest, "ETRN")?,
            }),
            Verb::Help => Ok(Command::Help {
                arg: parser.optional_arg(rest, "HELP")?,
            }),
            Verb::Noop => Ok(Command::Noop {
                arg: parser.optional_arg(rest, "NOOP")?,
            }),
            Verb::Auth => parser.auth(rest),
        }
    }
}

impl core::str::FromStr for Command {
    type Err = CommandError;
    fn from_str(line: &str) -> Result<Self, CommandError> {
        Command::parse_slice(line.as_bytes())
    }
}

/// The line being parsed and the options in force.
struct LineParser<'a> {
    src: &'a Bytes,
    options: &'a ParseOptions,
}

impl LineParser<'_> {
    /// What follows the space after the verb: `None` when there is nothing.
    #[inline]
    fn after_space<'i>(
        &self,
        rest: &'i [u8],
        verb: &'static str,
    ) -> Result<Option<&'i [u8]>, CommandError> {
        let Some(mut arg) = rest.strip_prefix(b" ") else {
            return Ok(None);
        };
        if self.options.allow_extra_spaces {
            let spaces = arg.iter().take_while(|&&b| b == b' ').count();
            arg = arg.get(spaces..).unwrap_or_default();
        }
        match arg.first() {
            None => Err(CommandError::MissingArgument { verb }),
            Some(b' ' | b'\t') => Err(CommandError::Syntax {
                verb,
                expected: "a single space before the argument",
            }),
            Some(_) => Ok(Some(arg)),
        }
    }

    fn required<'i>(&self, rest: &'i [u8], verb: &'static str) -> Result<&'i [u8], CommandError> {
        self.after_space(rest, verb)?
            .ok_or(CommandError::MissingArgument { verb })
    }

    fn optional_arg(
        &self,
        rest: &[u8],
        verb: &'static str,
    ) -> Result<Option<Argument>, CommandError> {
        let Some(arg) = self.after_space(rest, verb)? else {
            return Ok(None);
        };
        if arg.last().is_some_and(|b| matches!(b, b' ' | b'\t')) {
            // Only reachable with trailing whitespace kept by the options.
            return Err(CommandError::Syntax {
                verb,
                expected: "no trailing whitespace",
            });
        }
        Ok(Some(Argument(piece(self.src, arg))))
    }

    fn required_arg(&self, rest: &[u8], verb: &'static str) -> Result<Argument, CommandError> {
        self.optional_arg(rest, verb)?
            .ok_or(CommandError::MissingArgument { verb })
    }

    /// A verb that takes no argument: `rest` must be empty. Built in place by
    /// the caller, so no whole `Command` is passed through here.
    #[inline]
    fn bare(&self, rest: &[u8], verb: &'static str) -> Result<(), CommandError> {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(CommandError::UnexpectedArgument { verb })
        }
    }

    /// `"HELO" SP Domain` (RFC 5321 §4.1.1.1).
    fn helo(&self, rest: &[u8]) -> Result<Command, CommandError> {
        let arg = self.required(rest, "HELO")?;
        if !arg.is_ascii() {
            return Err(CommandError::NonAsciiHost { verb: "HELO" });
        }
        let host_error = |source| CommandError::Host {
            verb: "HELO",
            source,
        };
        let (domain, len) = scan_domain(self.src, arg).map_err(host_error)?;
        if len != arg.len() {
            return Err(host_error(AddressError::InvalidDomain));
        }
        Ok(Command::Helo { domain })
    }

    /// `SP ( Domain / address-literal )` (RFC 5321 §4.1.1.1, RFC 2033 §4.1).
    #[inline]
    fn host(&self, rest: &[u8], verb: &'static str) -> Result<crate::address::Host, CommandError> {
        let arg = self.required(rest, verb)?;
        if !arg.is_ascii() {
            return Err(CommandError::NonAsciiHost { verb });
        }
        let host_error = |source| CommandError::Host { verb, source };
        let (host, len) = scan_host(self.src, arg).map_err(host_error)?;
        if len != arg.len() {
            return Err(host_error(AddressError::InvalidDomain));
        }
        Ok(host)
    }

    /// The part after `MAIL FROM:` or `RCPT TO:`: `keyword` is `FROM:` or `TO:`.
    #[inline]
    fn path_start<'i>(
        &self,
        rest: &'i [u8],
        verb: &'static str,
        keyword: &'static [u8],
        expected: &'static str,
    ) -> Result<&'i [u8], CommandError> {
        let syntax = || CommandError::Syntax { verb, expected };
        let arg = self.after_space(rest, verb)?.ok_or_else(syntax)?;
        let (mut path, _) = no_case::<()>(keyword).parse(arg).map_err(|_| syntax())?;
        if self.options.allow_space_after_colon {
            let spaces = path.iter().take_while(|&&b| b == b' ').count();
            path = path.get(spaces..).unwrap_or_default();
        }
        if path.first() != Some(&b'<') {
            return Err(syntax());
        }
        Ok(path)
    }

    /// What follows a path: nothing, or a space and the parameters.
    #[inline]
    fn check_params_start(&self, params: &[u8], verb: &'static str) -> Result<(), CommandError> {
        match params.first() {
            None | Some(b' ') => Ok(()),
            Some(_) => Err(CommandError::Syntax {
                verb,
                expected: "a space after the path",
            }),
        }
    }

    /// `"MAIL FROM:" Reverse-path [SP Mail-parameters]` (RFC 5321 §4.1.1.2).
    #[inline]
    fn mail(&self, rest: &[u8]) -> Result<Command, CommandError> {
        let path = self.path_start(rest, "MAIL", b"FROM:", "FROM:<reverse-path>")?;
        let (from, len) = scan_reverse_path(self.src, path).map_err(CommandError::ReversePath)?;
        let params = path.get(len..).unwrap_or_default();
        self.check_params_start(params, "MAIL")?;
        let params = MailParameters::parse(self.src, params, self.options.allow_extra_spaces)?;
        Ok(Command::Mail { from, params })
    }

    /// `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
    /// [SP Rcpt-parameters]` (RFC 5321 §4.1.1.3).
    #[inline]
    fn rcpt(&self, rest: &[u8]) -> Result<Command, CommandError> {
        let path = self.path_start(rest, "RCPT", b"TO:", "TO:<forward-path>")?;
        let (to, len) = scan_forward_path(self.src, path).map_err(CommandError::ForwardPath)?;
        let params = path.get(len..).unwrap_or_default();
        self.check_params_start(params, "RCPT")?;
        let params = RcptParameters::parse(self.src, params, self.options.allow_extra_spaces)?;
        Ok(Command::Rcpt { to, params })
    }

    /// `bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF` (RFC 3030 §2).
    fn bdat(&self, rest: &[u8]) -> Result<Command, CommandError> {
        let arg = self.required(rest, "BDAT")?;
        let (marker, size) = chunk_size(arg).map_err(|_| CommandError::Syntax {
            verb: "BDAT",
            expected: "a chunk size",
        })?;
        let size = size.ok_or(CommandError::BdatSizeOverflow)?;
        let last = match self.after_space(marker, "BDAT")? {
            None if marker.is_empty() => false,
            Some(marker) if end_marker(marker).is_ok_and(|(rest, _)| rest.is_empty()) => true,
            _ => {
                return Err(CommandError::Syntax {
                    verb: "BDAT",
                    expected: "LAST or the end of the line",
                })
            }
        };
        Ok(Command::Bdat { size, last })
    }

    /// `auth-command = "AUTH" SP sasl-mech [SP initial-response] CRLF`
    /// (RFC 4954 §4).
    fn auth(&self, rest: &[u8]) -> Result<Command, CommandError> {
        let arg = self.required(rest, "AUTH")?;
        let mechanism_end = memchr::memchr(b' ', arg).unwrap_or(arg.len());
        let (mechanism, response) = arg.split_at(mechanism_end);
        let mechanism =
            Mechanism::parse_in(self.src, mechanism).map_err(CommandError::InvalidMechanism)?;
        let initial_response = match self.after_space(response, "AUTH")? {
            None => None,
            Some(response) => match initial_response(response) {
                Ok((&[], encoded)) => Some(InitialResponse(
                    encoded.map(|encoded| piece(self.src, encoded)),
                )),
                _ => return Err(CommandError::InvalidInitialResponse),
            },
        };
        Ok(Command::Auth {
            mechanism,
            initial_response,
        })
    }
}

/// `chunk-size = 1*DIGIT` (RFC 3030 §2): `None` when it does not fit in 64
/// bits.
fn chunk_size(input: &[u8]) -> IResult<&[u8], Option<u64>, ()> {
    map(digit1, |digits: &[u8]| {
        digits.iter().try_fold(0u64, |acc, &digit| {
            acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    })
    .parse(input)
}

/// `end-marker = "LAST"` (RFC 3030 §2).
fn end_marker(input: &[u8]) -> IResult<&[u8], &[u8], ()> {
    no_case(&b"LAST"[..]).parse(input)
}

/// `initial-response = base64 / "="` (RFC 4954 §4): `None` for `=`, the
/// empty response.
fn initial_response(input: &[u8]) -> IResult<&[u8], Option<&[u8]>, ()> {
    alt((value(None, all_consuming(octet(b'='))), map(base64, Some))).parse(input)
}

/// `base64 = base64-terminal / ( 1*(4base64-char) [base64-terminal] )` with
/// `base64-terminal = (2base64-char "==") / (3base64-char "=")` (RFC 4954
/// §4): whole groups of four, the last with at most two `=` of padding.
fn base64(input: &[u8]) -> IResult<&[u8], &[u8], ()> {
    verify(
        octets1(|byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')),
        |encoded: &[u8]| is_base64(encoded),
    )
    .parse(input)
}
