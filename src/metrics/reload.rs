//! The configuration reload's metrics, after Prometheus's own `prometheus_config_*`.

use prometheus::{Gauge, IntCounterVec, IntGauge, Opts};

/// Reloads by result (applied, unchanged, invalid, restart_required).
pub const CONFIG_RELOAD_TOTAL: &str = "dnsgrade_config_reload_total";
/// 1 when the last reload attempt left the files in force, 0 when it refused them.
pub const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "dnsgrade_config_last_reload_successful";
/// When the files in force were last read successfully (the start, or a reload).
pub const CONFIG_LAST_RELOAD_SUCCESS: &str =
    "dnsgrade_config_last_reload_success_timestamp_seconds";

/// The three reload families.
#[derive(Clone, Debug)]
pub struct ReloadMetrics {
    /// dnsgrade_config_reload_total{result}.
    pub total: IntCounterVec,
    /// dnsgrade_config_last_reload_successful.
    pub last_successful: IntGauge,
    /// dnsgrade_config_last_reload_success_timestamp_seconds.
    pub last_success: Gauge,
}

impl ReloadMetrics {
    /// The files in force were read (the start, or a successful reload) at `now_ms`.
    pub fn read_at(&self, now_ms: u64) {
        self.last_success.set(now_ms as f64 / 1000.0);
    }

    pub(super) fn new() -> Self {
        let total = IntCounterVec::new(
            Opts::new(
                CONFIG_RELOAD_TOTAL,
                "Configuration reloads (SIGHUP, POST /-/reload) by result: applied, unchanged, invalid (errors logged with file:line:col; the old configuration keeps running), restart_required.",
            ),
            &["result"],
        )
        .expect("valid metric");
        for r in ["applied", "unchanged", "invalid", "restart_required"] {
            total.with_label_values(&[r]);
        }
        let last_successful = IntGauge::new(
            CONFIG_LAST_RELOAD_SUCCESSFUL,
            "1 when the last reload attempt succeeded (or none was made), 0 when it was refused.",
        )
        .expect("valid metric");
        last_successful.set(1);
        let last_success = Gauge::new(
            CONFIG_LAST_RELOAD_SUCCESS,
            "Unix time the configuration in force was read: the start, or the last applied or unchanged reload.",
        )
        .expect("valid metric");
        Self {
            total,
            last_successful,
            last_success,
        }
    }
}
