//! What can go wrong with a lab server, on purpose.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;
use std::time::Duration;

/// Faults to inject. `Faults::default()` is a healthy server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// No reply at all: UDP queries are dropped, TCP connections are closed.
    pub stopped: bool,
    /// Share of queries silently dropped, at random.
    pub drop_ratio: f64,
    /// Every reply is sent this much later (a timer task, so the server keeps serving; works
    /// under `tokio::time::pause()`).
    pub delay: Duration,
    /// Answer with this RCODE and no records ...
    pub rcode: Option<ResponseCode>,
    /// ... for this share of queries (1.0 = all), at random.
    pub rcode_ratio: f64,
    /// Share of *names* answered with wrong data (A/AAAA altered, NS targets altered in
    /// referrals), chosen by a hash of the name and `seed`: the same names every time.
    pub wrong_ratio: f64,
    /// Share of names answered NXDOMAIN although they exist (chosen the same way).
    pub missing_ratio: f64,
    /// Names that are always answered with wrong data.
    pub wrong_names: Vec<Name>,
    /// Share of replies replaced by bytes that do not parse as DNS, at random.
    pub malformed_ratio: f64,
    /// Share of replies sent with another ID (the real reply is not sent), at random.
    pub mismatch_id_ratio: f64,
    /// UDP replies are empty with TC=1; TCP answers normally.
    pub truncate_udp: bool,
    /// The SOA is served with this serial (a node stuck on an old zone).
    pub serial_override: Option<u32>,
    /// Seed of the name hash.
    pub seed: u64,
}

/// A deterministic number in [0, 1) for `name` and `seed` (FNV-1a over the lowercase name).
pub fn name_share(name: &Name, seed: u64, salt: u8) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in name
        .to_lowercase()
        .to_ascii()
        .bytes()
        .chain(std::iter::once(salt))
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Finalise (splitmix64) so nearby names spread evenly.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}
