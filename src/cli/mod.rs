//! The command-line tools' work, apart from argument parsing: `check-config`'s description
//! (`describe`), `probe` (one query printed like dig), the clients of a running daemon's API
//! (`api`: a typed client; `incidents`: `dnsgrade incidents` and `dnsgrade drill`; `record`:
//! the circular's record (result, organisations, reported, coordinator-confirmed, receipt);
//! `report`: `dnsgrade report`, the periodic report;
//! `maintenance`: `dnsgrade maintenance`), times as people type and read them (`time`), and
//! the exit codes (`exit`).

mod api;
mod describe;
pub mod exit;
mod incidents;
mod maintenance;
mod probe;
mod record;
mod report;
mod time;

pub use api::{ApiCallError, ApiClient};
pub use describe::{describe_config, describe_config_json};
pub use incidents::{drill, incidents, DrillCall, IncidentCall, Output};
pub use maintenance::{maintenance, MaintenanceCall};
pub use probe::{format_message, probe, rcode_name, ProbeCliError, ProbeOptions, ProbeRun};
pub use record::RecordCall;
pub use report::{report, ReportFormat};
pub use time::{parse_instant, parse_zone, Times};
