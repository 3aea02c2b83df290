//! The command-line tools' work, apart from argument parsing: `check-config`'s description
//! (`describe`), `probe` (one query printed like dig), and the clients of a running daemon's
//! API (`api`: a typed client; `incidents`: `dnsgrade incidents` and `dnsgrade drill`).

mod api;
mod describe;
mod incidents;
mod probe;

pub use api::{ApiCallError, ApiClient};
pub use describe::describe_config;
pub use incidents::{drill, incidents, DrillCall, IncidentCall};
pub use probe::{format_message, probe, rcode_name, ProbeCliError};
