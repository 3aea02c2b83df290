//! The exit codes of the command-line tools, in one place: `main` exits with these, `--help`
//! and README.md list them.
//!
//! The API clients (`incidents`, `drill`, `maintenance`) follow sysexits.h and tell the HTTP
//! class apart, so a script can tell "the daemon is down" (69) from "the daemon failed" (70)
//! from "you asked for something wrong" (64, 66, 77). `probe` follows dig: 0 for a reply
//! (whatever its RCODE), 9 for no reply, and two codes of its own.

/// Success.
pub const OK: u8 = 0;
/// `probe`: no reply before the timeout, or the query could not be sent (dig's 9).
pub const PROBE_NO_REPLY: u8 = 9;
/// `probe`: a reply came that is not a usable answer to the query: it does not parse as a
/// DNS message, or its ID or question does not match.
pub const PROBE_MALFORMED: u8 = 10;
/// `probe --expect`: the reply's answer differs from the expected values.
pub const PROBE_MISMATCH: u8 = 11;
/// EX_USAGE: bad arguments, or the API refused the request as wrong (400, 409 and every other
/// 4xx not listed below).
pub const USAGE: u8 = 64;
/// EX_DATAERR: input that cannot be used (`probe`'s server, name or type, `sweep`'s zone).
pub const DATA: u8 = 65;
/// EX_NOINPUT: the API has no such thing (404: no such incident or window).
pub const NOT_FOUND: u8 = 66;
/// EX_UNAVAILABLE: the API cannot be reached (connection refused, no route, timeout), or a
/// needed local resource is missing (sockets, the runtime).
pub const UNAVAILABLE: u8 = 69;
/// EX_SOFTWARE: the API answered with a server error (5xx).
pub const SERVER_ERROR: u8 = 70;
/// EX_PROTOCOL: the API answered something this version cannot read.
pub const PROTOCOL: u8 = 76;
/// EX_NOPERM: the API refused the token (401: missing or wrong; 403: writes are disabled).
pub const NO_PERMISSION: u8 = 77;
/// EX_CANTCREAT: `dnsgrade report --output` could not write its file.
pub const CANT_CREATE: u8 = 73;
/// EX_CONFIG: the probes or rules file is invalid or unreadable.
pub const CONFIG: u8 = 78;

/// The API clients' exit codes as `--help` and README.md list them.
pub const API_CODES_HELP: &str = "Exit codes: 0 success; 64 usage error or the API refused the \
request (400, 409, other 4xx); 66 not found (404); 69 the API cannot be reached; 70 the API \
failed (5xx); 76 the API's answer is unreadable; 77 token refused (401) or writes disabled (403).";

/// `probe`'s exit codes as `--help` and README.md list them.
pub const PROBE_CODES_HELP: &str = "Exit codes (0 and 9 as dig): 0 a reply, whatever its RCODE; \
9 no reply (timeout, or the query could not be sent); 10 a malformed reply (unparsable, or its \
ID or question does not match); 11 the answer differs from --expect; 64 usage error; 65 a bad \
server, name or type; 69 sockets could not be opened.";
