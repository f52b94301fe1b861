//! Generated request heads, well-formed, mutated and random, fed to the request parser.
//!
//! `read_request` is the first code to see the bytes of whoever connects, so its promise (the
//! module docs of `poolbook_http::request`) must hold for any input at all: it ends in a
//! `Request` or in a `RequestError` that knows its response, it never panics, and it never
//! reads more than `Limits` allows. Hand-picked examples cannot cover "any input"; this test
//! feeds it three kinds of generated ones:
//!
//! - request heads built from parts, either well-formed or wrong in one known way (an absurd
//!   method, target or version, a bad header name, a line or a header count over the limits).
//!   A model of the rules (RFC 9112's grammar, the documented limits) says what must come of
//!   each: a request with exactly the parts sent (values without their surrounding blanks),
//!   the bytes after the head left unread, or one precise status;
//! - the same heads mutated byte by byte: a byte flipped, inserted or deleted, a CR or LF
//!   removed or doubled, NUL, 0xFF or a broken UTF-8 sequence inserted, the head cut short.
//!   Most of these only have to keep the invariants below; a head cut short and a line end
//!   without its CR have exact outcomes too;
//! - plain random bytes, some drawn from the bytes HTTP is made of so they get past the
//!   first line now and then.
//!
//! Each input runs under `Limits::default()`, small random limits, or limits within a few
//! bytes of the head's own sizes, which is where an off-by-one would show.
//!
//! For every input: no panic; an accepted request keeps its documented invariants and is
//! exactly the bytes consumed; an error answers exactly the status its variant promises
//! (400, 414, 431 or 505; none for a connection closed before any byte); and the parser
//! consumed at most `request_line + header_bytes + 1` bytes. The one byte of slack is the
//! parser's own: it reads each line through `take(max + 1)`, the byte past the limit being
//! how it tells a line exactly at the limit from one over it, and that only ever happens on
//! the line that ends the parse. An accepted head consumed no slack at all.
//!
//! The test tallies outcomes, prints the tally (run with `--nocapture` to see it) and fails
//! unless every one of them occurred: a generator that drifted into producing only garbage
//! would otherwise pass while testing little more than the first line check.
//!
//! 100,000 inputs by default, one per case, in about 8 s of a debug build on two cores;
//! set `PROPTEST_CASES` for more (or fewer: below a few thousand, an outcome may not occur
//! and the coverage check fails, which is its point).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use poolbook_http::{Limits, Request, RequestError, Version, read_request};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{RngAlgorithm, TestCaseError};

/// `tchar` from RFC 9110 §5.6.2, spelled out here rather than borrowed from the parser.
const TCHARS: &[u8] = b"!#$%&'*+-.^_`|~0123456789\
    ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Bytes that are not `tchar`. SP, CR and LF are left out: they would change where the line
/// or its parts end, which the model does not follow (the byte mutations do that instead).
const NOT_TOKEN: &[u8] = b"\0\x01\t\x7f\x80\xff\"(),/:;<=>?@[\\]{}";

/// The same for a header name, without `:` too, which would end the name instead.
const NOT_TOKEN_IN_NAME: &[u8] = b"\0\x01\t\x7f\x80\xff\"(),/;<=>?@[\\]{}";

/// Visible ASCII: what a target is made of.
const VISIBLE: &[u8] = b"!\"#$%&'()*+,-./0123456789:;<=>?@\
    ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

/// Bytes that are not visible ASCII, SP, CR and LF again left out.
const NOT_VISIBLE: &[u8] = b"\0\x01\t\x7f\x80\xff";

/// Whether `b` is in [`TCHARS`]; as RFC 9110 words it, rather than a search through 77 bytes
/// that would cost a debug build most of a millisecond per long method.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes that print as a byte string literal, so that a failing input can be read.
#[derive(Clone, PartialEq, Eq)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// A request head as parts, so that the generator can make any one of them wrong on purpose.
///
/// No part holds SP, CR or LF, except that header values may hold SP: every head has one
/// request line of three parts and one line per header, which the model relies on.
#[derive(Debug, Clone)]
struct Head {
    method: Bytes,
    target: Bytes,
    version: Bytes,
    /// Name and value, the value with whatever blanks were generated around it.
    headers: Vec<(Bytes, Bytes)>,
}

impl Head {
    fn request_line(&self) -> Vec<u8> {
        [
            &self.method.0[..],
            b" ",
            &self.target.0,
            b" ",
            &self.version.0,
            b"\r\n",
        ]
        .concat()
    }

    fn header_line((name, value): &(Bytes, Bytes)) -> Vec<u8> {
        [&name.0[..], b":", &value.0, b"\r\n"].concat()
    }

    /// The header lines and the empty line that ends them: what `Limits::header_bytes` counts.
    fn header_section_len(&self) -> usize {
        self.headers
            .iter()
            .map(|h| Head::header_line(h).len())
            .sum::<usize>()
            + 2
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.request_line();
        for header in &self.headers {
            bytes.extend(Head::header_line(header));
        }
        bytes.extend(b"\r\n");
        bytes
    }

    fn limits(&self, choice: LimitsChoice) -> Limits {
        match choice {
            LimitsChoice::Default => Limits::default(),
            LimitsChoice::Small(limits) => limits,
            LimitsChoice::Tight { line, bytes, count } => Limits {
                request_line: self.request_line().len().saturating_add_signed(line.into()),
                header_bytes: self
                    .header_section_len()
                    .saturating_add_signed(bytes.into()),
                header_count: self.headers.len().saturating_add_signed(count.into()),
            },
        }
    }
}

/// What became of an input; also the tally's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Parsed,
    /// Closed before any byte: no response.
    Closed,
    Status(u16),
}

/// Every outcome the generator must reach.
const EVERY_OUTCOME: [Outcome; 6] = [
    Outcome::Parsed,
    Outcome::Closed,
    Outcome::Status(400),
    Outcome::Status(414),
    Outcome::Status(431),
    Outcome::Status(505),
];

/// What the parser must make of `head` under `limits`.
///
/// Worked out from the rules (RFC 9112's request line and field lines, the limits as
/// documented), taken in the order the parser reads: a line is too long before it is anything
/// else, the request line is judged before any header, and each header line is judged when it
/// has been read, its size first and the header count before its name.
fn expected(head: &Head, limits: &Limits) -> Outcome {
    let line = head.request_line();
    if line.len() > limits.request_line {
        return Outcome::Status(414);
    }
    if std::str::from_utf8(&line).is_err() {
        return Outcome::Status(400);
    }
    let method = &head.method.0;
    let target = &head.target.0;
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Outcome::Status(400);
    }
    if target.first() != Some(&b'/') || !target.iter().all(u8::is_ascii_graphic) {
        return Outcome::Status(400);
    }
    match &head.version.0[..] {
        b"HTTP/1.1" | b"HTTP/1.0" => {}
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Outcome::Status(505);
        }
        _ => return Outcome::Status(400),
    }
    let mut budget = limits.header_bytes;
    for (count, header) in head.headers.iter().enumerate() {
        let line = Head::header_line(header);
        if line.len() > budget {
            return Outcome::Status(431);
        }
        budget -= line.len();
        if std::str::from_utf8(&line).is_err() {
            return Outcome::Status(400);
        }
        if count == limits.header_count {
            return Outcome::Status(431);
        }
        let name = &header.0.0;
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Outcome::Status(400);
        }
    }
    if budget < 2 {
        return Outcome::Status(431);
    }
    Outcome::Parsed
}

/// `value` without the spaces and tabs around it (RFC 9112 §5: OWS is not part of the value).
fn trim_blanks(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// How the limits of an input are chosen; `Tight` is resolved against the input's head.
#[derive(Debug, Clone, Copy)]
enum LimitsChoice {
    Default,
    Small(Limits),
    /// The head's own sizes, give or take a little: each limit exactly met, or missed by a
    /// byte or two either way.
    Tight {
        line: i8,
        bytes: i8,
        count: i8,
    },
}

/// A byte-level change to a serialized head.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    Flip {
        at: Index,
        mask: u8,
    },
    Insert {
        at: Index,
        byte: u8,
    },
    Delete {
        at: Index,
    },
    /// Keeps only the bytes before `at`.
    Truncate {
        at: Index,
    },
    /// Removes the CR of one of the head's line ends.
    RemoveCr {
        line: Index,
    },
    RemoveLf {
        line: Index,
    },
    DoubleCr {
        line: Index,
    },
    DoubleLf {
        line: Index,
    },
    /// Inserts bytes that are not UTF-8 (a lone 0xFF, a cut sequence, a surrogate, ...).
    NotUtf8 {
        at: Index,
        bytes: &'static [u8],
    },
}

impl Mutation {
    fn apply(self, mut bytes: Vec<u8>) -> Vec<u8> {
        // Every head has at least two line ends (its request line's and the empty line's).
        let cr_of = |bytes: &[u8], line: Index| {
            let crs: Vec<usize> = bytes
                .windows(2)
                .enumerate()
                .filter(|(_, pair)| pair == b"\r\n")
                .map(|(i, _)| i)
                .collect();
            crs[line.index(crs.len())]
        };
        match self {
            Mutation::Flip { at, mask } => {
                let i = at.index(bytes.len());
                bytes[i] ^= mask;
            }
            Mutation::Insert { at, byte } => bytes.insert(at.index(bytes.len() + 1), byte),
            Mutation::Delete { at } => {
                bytes.remove(at.index(bytes.len()));
            }
            Mutation::Truncate { at } => bytes.truncate(at.index(bytes.len())),
            Mutation::RemoveCr { line } => {
                bytes.remove(cr_of(&bytes, line));
            }
            Mutation::RemoveLf { line } => {
                bytes.remove(cr_of(&bytes, line) + 1);
            }
            Mutation::DoubleCr { line } => bytes.insert(cr_of(&bytes, line), b'\r'),
            Mutation::DoubleLf { line } => bytes.insert(cr_of(&bytes, line) + 1, b'\n'),
            Mutation::NotUtf8 {
                at,
                bytes: inserted,
            } => {
                let i = at.index(bytes.len() + 1);
                bytes.splice(i..i, inserted.iter().copied());
            }
        }
        bytes
    }

    /// The outcome that is certain whatever the head, for a head the parser would accept.
    fn expected_if_parsed(self, head_len: usize) -> Option<Outcome> {
        match self {
            // Cut short: the stream ends inside a line, or before the first byte.
            Mutation::Truncate { at } if at.index(head_len) == 0 => Some(Outcome::Closed),
            Mutation::Truncate { .. } => Some(Outcome::Status(400)),
            // Lines end with CRLF; a bare LF is rejected, however lenient RFC 9112 §2.2 lets
            // a server be.
            Mutation::RemoveCr { .. } => Some(Outcome::Status(400)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Input {
    /// A head built from parts, followed by `after`, which the parser must leave unread.
    Built {
        head: Head,
        limits: Limits,
        after: Bytes,
    },
    Mutated {
        head: Head,
        limits: Limits,
        mutation: Mutation,
    },
    Random {
        bytes: Bytes,
        limits: Limits,
    },
}

fn from_strs(list: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::sample::select(list).prop_map(|s| s.as_bytes().to_vec())
}

/// `len` bytes drawn from `alphabet`.
///
/// One `u8` per byte, mapped onto the alphabet: in a debug build several times cheaper than a
/// `select` per byte, and it still shrinks (towards the alphabet's first byte).
fn drawn(alphabet: &'static [u8], len: Range<usize>) -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::collection::vec(any::<u8>(), len).prop_map(|picks| {
        picks
            .into_iter()
            .map(|pick| alphabet[usize::from(pick) % alphabet.len()])
            .collect()
    })
}

fn token(len: Range<usize>) -> impl Strategy<Value = Vec<u8>> + Clone {
    drawn(TCHARS, len)
}

/// `bytes` with one of `bad` put in somewhere: how a part is made wrong by a single byte.
fn with_bad_byte(
    bytes: impl Strategy<Value = Vec<u8>> + Clone,
    bad: &'static [u8],
) -> impl Strategy<Value = Vec<u8>> + Clone {
    (bytes, any::<Index>(), prop::sample::select(bad)).prop_map(|(mut bytes, at, byte)| {
        bytes.insert(at.index(bytes.len() + 1), byte);
        bytes
    })
}

fn method() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        from_strs(&["GET", "HEAD", "POST", "OPTIONS", "DELETE", "PATCH"]),
        token(1..10),
    ]
}

fn absurd_method() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        // Still a token: accepted unless it makes the line too long (the limit is 8 KiB).
        (prop::sample::select(TCHARS), 1..10_000_usize).prop_map(|(b, n)| vec![b; n]),
        from_strs(&["", "get", "M-SEARCH", "GÉT", "[GET]", "GET/1.1", "G\0T"]),
        with_bad_byte(token(0..8), NOT_TOKEN),
    ]
    .boxed()
}

fn target() -> impl Strategy<Value = Vec<u8>> + Clone {
    drawn(VISIBLE, 0..24).prop_map(|rest| [&b"/"[..], &rest].concat())
}

fn absurd_target() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        (1..10_000_usize).prop_map(|n| [&b"/"[..], &b"a/".repeat(n / 2)].concat()),
        // Odd but well-formed: making sense of them is the router's job, not the parser's.
        from_strs(&[
            "/..",
            "/../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/%00",
            "/%ff%fe%",
            "//",
            "/?",
            "/#frag",
            "/a/./b/../../..",
        ]),
        // Not origin form: absolute form, asterisk form, authority form and worse.
        from_strs(&[
            "http://example.com/",
            "https://example.com:443/a?b",
            "*",
            "",
            "example.com:80",
            "%2F",
            "\\",
            "./x",
            "é/",
        ]),
        with_bad_byte(target(), NOT_VISIBLE),
    ]
    .boxed()
}

fn version() -> impl Strategy<Value = Vec<u8>> + Clone {
    from_strs(&["HTTP/1.1", "HTTP/1.0"])
}

fn absurd_version() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        (0..=9_u8, 0..=9_u8).prop_map(|(major, minor)| format!("HTTP/{major}.{minor}").into()),
        from_strs(&[
            "HTTP/2",
            "HTTP/1",
            "HTTP/1.1.1",
            "HTTP/11.1",
            "HTTP/1.11",
            "http/1.1",
            "HTTPS/1.1",
            "HTTP/1,1",
            "HTTP/x.y",
            "HTTP/",
            "HTTP/1.",
            "",
            "HTTP/١.١",
            "HTTP/1.1\0",
        ]),
        drawn(VISIBLE, 0..12),
    ]
    .boxed()
}

fn header() -> BoxedStrategy<(Bytes, Bytes)> {
    let name = prop_oneof![
        from_strs(&[
            "Host",
            "Accept",
            "User-Agent",
            "Connection",
            "If-None-Match"
        ]),
        token(1..16),
    ];
    let blanks = drawn(b" \t", 0..3);
    // Visible ASCII and spaces, now and then a tab or a character beyond ASCII. No control
    // characters: the parser accepts them in a value today, RFC 9110 §5.5 lets it reject them
    // instead, and which it does is not this test's to pin.
    let text = prop::collection::vec(any::<u8>(), 0..16).prop_map(|picks| {
        picks
            .into_iter()
            .map(|pick| match pick {
                0..=239 => char::from(b' ' + pick % 95),
                _ => ['\t', 'é', '€', '𝄞'][usize::from(pick % 4)],
            })
            .collect::<String>()
            .into_bytes()
    });
    (name, blanks.clone(), text, blanks)
        .prop_map(|(name, before, text, after)| {
            (Bytes(name), Bytes([before, text, after].concat()))
        })
        .boxed()
}

fn absurd_name() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        // A leading blank is obsolete line folding; a blank before the colon is forbidden
        // outright (RFC 9112 §5.1).
        from_strs(&["", " Host", "\tHost", "Host ", "Ho st", "Hóst"]),
        with_bad_byte(token(0..8), NOT_TOKEN_IN_NAME),
    ]
    .boxed()
}

fn head() -> BoxedStrategy<Head> {
    let well_formed = (
        method(),
        target(),
        version(),
        prop::collection::vec(header(), 0..6),
    )
        .prop_map(|(method, target, version, headers)| Head {
            method: Bytes(method),
            target: Bytes(target),
            version: Bytes(version),
            headers,
        })
        .boxed();
    prop_oneof![
        12 => well_formed.clone(),
        2 => (well_formed.clone(), absurd_method())
            .prop_map(|(head, method)| Head { method: Bytes(method), ..head }),
        2 => (well_formed.clone(), absurd_target())
            .prop_map(|(head, target)| Head { target: Bytes(target), ..head }),
        2 => (well_formed.clone(), absurd_version())
            .prop_map(|(head, version)| Head { version: Bytes(version), ..head }),
        2 => (well_formed.clone(), absurd_name(), any::<Index>()).prop_map(|(mut head, name, at)| {
            let at = at.index(head.headers.len() + 1);
            head.headers.insert(at, (Bytes(name), Bytes(b"x".to_vec())));
            head
        }),
        // One header as big as the whole default budget (8 KiB), give or take.
        2 => (well_formed.clone(), 1..10_000_usize, any::<Index>()).prop_map(|(mut head, n, at)| {
            let at = at.index(head.headers.len() + 1);
            head.headers.insert(at, (Bytes(b"X-Long".to_vec()), Bytes(vec![b'v'; n])));
            head
        }),
        // Around the default count limit (100).
        1 => (well_formed, 95..=105_usize).prop_map(|(head, n)| Head {
            headers: (0..n)
                .map(|i| (Bytes(format!("X-{i}").into()), Bytes(b"1".to_vec())))
                .collect(),
            ..head
        }),
    ]
    .boxed()
}

fn small_limits() -> impl Strategy<Value = Limits> + Clone {
    (0..=64_usize, 0..=160_usize, 0..=8_usize).prop_map(|(request_line, header_bytes, count)| {
        Limits {
            request_line,
            header_bytes,
            header_count: count,
        }
    })
}

fn limits_choice() -> impl Strategy<Value = LimitsChoice> {
    prop_oneof![
        2 => Just(LimitsChoice::Default),
        1 => small_limits().prop_map(LimitsChoice::Small),
        1 => (-2..=2_i8, -2..=2_i8, -1..=1_i8)
            .prop_map(|(line, bytes, count)| LimitsChoice::Tight { line, bytes, count }),
    ]
}

fn mutation() -> BoxedStrategy<Mutation> {
    let byte = prop_oneof![any::<u8>(), prop::sample::select(&b"\0\xff\r\n :\t"[..])];
    let not_utf8: &'static [&'static [u8]] = &[
        b"\xff",
        b"\x80",
        b"\xc3",
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xc0\x80",
    ];
    prop_oneof![
        (any::<Index>(), 1..=255_u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (any::<Index>(), byte).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<Index>().prop_map(|at| Mutation::Delete { at }),
        any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        any::<Index>().prop_map(|line| Mutation::RemoveCr { line }),
        any::<Index>().prop_map(|line| Mutation::RemoveLf { line }),
        any::<Index>().prop_map(|line| Mutation::DoubleCr { line }),
        any::<Index>().prop_map(|line| Mutation::DoubleLf { line }),
        (any::<Index>(), prop::sample::select(not_utf8))
            .prop_map(|(at, bytes)| Mutation::NotUtf8 { at, bytes }),
    ]
    .boxed()
}

fn random_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // The peer that connects and closes without a word (browsers do, speculatively).
        1 => Just(Vec::new()),
        5 => prop::collection::vec(any::<u8>(), 1..64),
        5 => drawn(b"GET /HTTP1.0\r\n:\t \0\xff", 1..64),
    ]
}

fn input() -> BoxedStrategy<Input> {
    let after = prop::collection::vec(any::<u8>(), 0..16);
    prop_oneof![
        4 => (head(), limits_choice(), after).prop_map(|(head, choice, after)| Input::Built {
            limits: head.limits(choice),
            head,
            after: Bytes(after),
        }),
        4 => (head(), limits_choice(), mutation()).prop_map(|(head, choice, mutation)| {
            Input::Mutated {
                limits: head.limits(choice),
                head,
                mutation,
            }
        }),
        1 => (random_bytes(), prop_oneof![Just(Limits::default()), small_limits()])
            .prop_map(|(bytes, limits)| Input::Random { bytes: Bytes(bytes), limits }),
    ]
    .boxed()
}

/// The outcome of an error, after checking that it answers what its variant promises.
fn error_outcome(error: &RequestError) -> Result<Outcome, TestCaseError> {
    let promised = match error {
        RequestError::Closed => None,
        RequestError::Io(e) => {
            return Err(TestCaseError::fail(format!(
                "reading a slice cannot fail, yet: {e}"
            )));
        }
        RequestError::NotUtf8 | RequestError::Malformed(_) => Some(400),
        RequestError::RequestLineTooLong => Some(414),
        RequestError::HeadersTooLarge => Some(431),
        RequestError::UnsupportedVersion => Some(505),
    };
    let answered = error.response().map(|response| response.status.code);
    prop_assert_eq!(answered, promised, "the response to {:?}", error);
    Ok(promised.map_or(Outcome::Closed, Outcome::Status))
}

/// An accepted request keeps its invariants and is exactly `head`, the bytes consumed: its
/// request line, one header per line (the value without its surrounding blanks), then the
/// empty line.
fn check_request(request: &Request, head: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    let method = request.method.as_bytes();
    let target = request.target.as_bytes();
    prop_assert!(
        !method.is_empty() && method.iter().all(|&b| is_tchar(b)),
        "method {:?}",
        request.method
    );
    prop_assert!(
        target.first() == Some(&b'/') && target.iter().all(u8::is_ascii_graphic),
        "target {:?}",
        request.target
    );
    prop_assert!(request.headers.len() <= limits.header_count);

    let lines: Vec<&[u8]> = head.split_inclusive(|&b| b == b'\n').collect();
    prop_assert_eq!(
        lines.len(),
        request.headers.len() + 2,
        "consumed {:?} for a request with {} headers",
        Bytes(head.to_vec()),
        request.headers.len()
    );
    let version = match request.version {
        Version::Http10 => "HTTP/1.0",
        Version::Http11 => "HTTP/1.1",
    };
    let request_line = format!("{} {} {version}\r\n", request.method, request.target);
    prop_assert_eq!(lines[0], request_line.as_bytes());
    prop_assert!(lines[0].len() <= limits.request_line);
    prop_assert!(head.len() - lines[0].len() <= limits.header_bytes);
    for ((name, value), line) in request.headers.iter().zip(&lines[1..]) {
        prop_assert!(
            !name.is_empty() && name.bytes().all(is_tchar),
            "name {:?}",
            name
        );
        // RFC 9110 §5.5: no control character but a tab in a value, so no CR to smuggle.
        prop_assert!(
            !value.bytes().any(|b| b.is_ascii_control() && b != b'\t'),
            "value {:?}",
            value
        );
        let line = line.strip_suffix(b"\r\n");
        let sent = line.and_then(|line| line.strip_prefix(name.as_bytes()));
        let sent = sent.and_then(|rest| rest.strip_prefix(b":"));
        prop_assert_eq!(
            sent.map(trim_blanks),
            Some(value.as_bytes()),
            "line {:?}",
            line
        );
    }
    prop_assert_eq!(lines[lines.len() - 1], b"\r\n");
    Ok(())
}

/// Feeds one input to the parser and checks everything that must hold of the result.
fn check(input: &Input) -> Result<Outcome, TestCaseError> {
    let (bytes, limits, expected) = match input {
        Input::Built {
            head,
            limits,
            after,
        } => {
            let bytes = [head.to_bytes(), after.0.clone()].concat();
            (bytes, limits, Some(expected(head, limits)))
        }
        Input::Mutated {
            head,
            limits,
            mutation,
        } => {
            let head_bytes = head.to_bytes();
            let certain = match expected(head, limits) {
                Outcome::Parsed => mutation.expected_if_parsed(head_bytes.len()),
                _ => None,
            };
            (mutation.apply(head_bytes), limits, certain)
        }
        Input::Random { bytes, limits } => (bytes.0.clone(), limits, None),
    };

    // A slice is a `BufRead` that consumes exactly what the parser takes, so what is left of
    // it says how much was read.
    let mut rest = &bytes[..];
    let result = read_request(&mut rest, limits);
    let consumed = &bytes[..bytes.len() - rest.len()];

    prop_assert!(
        consumed.len() <= limits.request_line + limits.header_bytes + 1,
        "read {} bytes under {:?}",
        consumed.len(),
        limits
    );
    let outcome = match &result {
        Ok(request) => {
            check_request(request, consumed, limits)?;
            Outcome::Parsed
        }
        Err(error) => error_outcome(error)?,
    };
    // "Closed" is for the peer that sent nothing, and only for it: anything else is answered.
    prop_assert_eq!(outcome == Outcome::Closed, bytes.is_empty());
    if outcome == Outcome::Status(414) {
        // The line was cut at the limit plus the one byte that shows it is over.
        prop_assert_eq!(
            consumed.len(),
            limits.request_line + 1,
            "414 after reading {:?} under {:?}",
            Bytes(consumed.to_vec()),
            limits
        );
    }
    if let Some(expected) = expected {
        prop_assert_eq!(outcome, expected, "{:?}", result);
    }
    if let (Input::Built { head, after, .. }, Ok(request)) = (input, &result) {
        let expected_headers: Vec<(&[u8], &[u8])> = head
            .headers
            .iter()
            .map(|(name, value)| (&name.0[..], trim_blanks(&value.0)))
            .collect();
        let headers: Vec<(&[u8], &[u8])> = request
            .headers
            .iter()
            .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
            .collect();
        prop_assert_eq!(request.method.as_bytes(), &head.method.0[..]);
        prop_assert_eq!(request.target.as_bytes(), &head.target.0[..]);
        let version = match request.version {
            Version::Http10 => &b"HTTP/1.0"[..],
            Version::Http11 => b"HTTP/1.1",
        };
        prop_assert_eq!(version, &head.version.0[..]);
        prop_assert_eq!(headers, expected_headers);
        // The next request on the connection, if any, starts with these bytes: not one of
        // them may have been taken.
        prop_assert_eq!(rest, &after.0[..], "the bytes after the head");
    }
    Ok(outcome)
}

#[derive(Default)]
struct Tally {
    inputs: u64,
    outcomes: BTreeMap<Outcome, u64>,
}

impl Tally {
    fn get(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} inputs: ", self.inputs)?;
        let parts: Vec<String> = self
            .outcomes
            .iter()
            .map(|(outcome, n)| match outcome {
                Outcome::Parsed => format!("{n} parsed"),
                Outcome::Closed => format!("{n} closed"),
                Outcome::Status(code) => format!("{code}: {n}"),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 100_000;
    }
    // Unoptimised, the default ChaCha generator took more than half of the run (22 s instead
    // of 10); the inputs need variety, not cryptographic quality.
    config.rng_algorithm = RngAlgorithm::XorShift;
    config
}

#[test]
fn every_input_ends_in_a_request_or_its_response() {
    let config = config();
    let tally = RefCell::new(Tally::default());
    proptest!(config.clone(), |(input in input())| {
        let outcome = check(&input)?;
        let mut tally = tally.borrow_mut();
        tally.inputs += 1;
        *tally.outcomes.entry(outcome).or_default() += 1;
    });
    let tally = tally.into_inner();
    eprintln!("{tally}");
    assert_eq!(tally.inputs, u64::from(config.cases));
    for outcome in EVERY_OUTCOME {
        assert!(
            tally.get(outcome) > 0,
            "no input ended in {outcome:?}: the generator never reaches that branch"
        );
    }
}
