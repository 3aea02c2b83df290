//! What can go wrong with a lab server, on purpose.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;
use std::time::Duration;

/// Salt of [`name_share`] for `wrong_ratio`, so wrong and missing names are independent.
pub(crate) const SALT_WRONG: u8 = 1;
/// Salt of [`name_share`] for `missing_ratio`.
pub(crate) const SALT_MISSING: u8 = 2;

/// Faults to inject into a [`LabServer`](super::LabServer). `Faults::default()` is a healthy
/// server. Ratios are shares in `[0, 1]`: 0 never, 1 always.
///
/// Per-query faults (`drop_ratio`, `rcode_ratio`, `malformed_ratio`, `mismatch_id_ratio`) are
/// drawn from a random generator seeded with `seed` whenever the faults are set, so a
/// sequential test sees the same pattern on every run. Per-name faults (`wrong_ratio`,
/// `missing_ratio`) do not depend on the order of queries at all: a hash of the query name and
/// `seed` decides, so the same names are wrong every time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// No reply at all: UDP queries are dropped and TCP connections are closed (a dead node).
    pub stopped: bool,
    /// Share of queries silently dropped, at random (packet loss, an overloaded node).
    pub drop_ratio: f64,
    /// Every reply is sent this much later. A timer task sends it, so the server keeps
    /// serving meanwhile; it runs on tokio's clock, so it works under `tokio::time::pause()`.
    pub delay: Duration,
    /// Answer queries with this RCODE and no records (SERVFAIL from a broken backend, ...),
    /// as many as `rcode_ratio` says: set both.
    pub rcode: Option<ResponseCode>,
    /// Share of queries, at random, that get `rcode`: 1.0 all, 0.0 (the default) none.
    /// Ignored without `rcode`.
    pub rcode_ratio: f64,
    /// Share of query names answered with wrong data: A/AAAA addresses altered and NS
    /// targets renamed (in answers and in referrals, whose glue is renamed and altered with
    /// them). Chosen by a hash of the lowercase name and `seed`, so the same names every time.
    pub wrong_ratio: f64,
    /// Share of query names that exist but are answered NXDOMAIN (chosen like `wrong_ratio`,
    /// independently of it).
    pub missing_ratio: f64,
    /// Names that are always answered with wrong data, whatever `wrong_ratio` says.
    pub wrong_names: Vec<Name>,
    /// Share of replies, at random, replaced by bytes that do not parse as DNS (some are cut
    /// inside the header).
    pub malformed_ratio: f64,
    /// Share of replies, at random, sent with another message ID; the real reply is not sent.
    pub mismatch_id_ratio: f64,
    /// UDP replies are empty with TC=1, so clients must retry over TCP, which answers normally.
    pub truncate_udp: bool,
    /// SOA records are served with this serial (a node stuck on an old zone).
    pub serial_override: Option<u32>,
    /// Seed of the name hash and of the random generator of per-query faults.
    pub seed: u64,
}

impl Faults {
    /// Whether replies for `qname` carry wrong data under these faults.
    pub fn is_wrong(&self, qname: &Name) -> bool {
        self.wrong_names.iter().any(|n| same_name(n, qname))
            || (self.wrong_ratio > 0.0
                && name_share(qname, self.seed, SALT_WRONG) < self.wrong_ratio)
    }

    /// Whether `qname`, if it exists, is answered NXDOMAIN under these faults.
    pub fn is_missing(&self, qname: &Name) -> bool {
        self.missing_ratio > 0.0 && name_share(qname, self.seed, SALT_MISSING) < self.missing_ratio
    }
}

/// Case-insensitive name equality that ignores whether either side is fully qualified.
fn same_name(a: &Name, b: &Name) -> bool {
    a.iter().len() == b.iter().len() && a.zone_of(b)
}

/// A number in `[0, 1)` that depends only on `name` (case-insensitively, fully qualified or
/// not), `seed` and `salt`: FNV-1a over the labels, finished with splitmix64. Stable across runs,
/// builds and platforms, so a share of names can be picked reproducibly.
pub fn name_share(name: &Name, seed: u64, salt: u8) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for label in name.iter() {
        // Label lengths are at most 63, so the cast is exact.
        eat(label.len() as u8);
        label.iter().for_each(|b| eat(b.to_ascii_lowercase()));
    }
    eat(0);
    eat(salt);
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    // The top 53 bits fit an f64 mantissa exactly.
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::Zone;
    use std::str::FromStr;

    fn name(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    #[test]
    fn share_ignores_case_and_trailing_dot_and_depends_on_seed_and_salt() {
        let a = name_share(&name("WWW.Example.CN."), 7, SALT_WRONG);
        assert_eq!(a, name_share(&name("www.example.cn"), 7, SALT_WRONG));
        assert!((0.0..1.0).contains(&a));
        assert_ne!(a, name_share(&name("www.example.cn."), 8, SALT_WRONG));
        assert_ne!(a, name_share(&name("www.example.cn."), 7, SALT_MISSING));
    }

    #[test]
    fn wrong_ratio_is_deterministic_and_close_to_the_ratio_over_10000_names() {
        let zone = Zone::synthetic_tld("cn.", 10_000);
        let names: Vec<&Name> = zone.delegations().collect();
        assert_eq!(names.len(), 10_000);
        let faults = Faults {
            wrong_ratio: 0.1,
            seed: 42,
            ..Faults::default()
        };
        let wrong = names.iter().filter(|n| faults.is_wrong(n)).count();
        // Pinned: the hash must not change between runs, builds or platforms, or a sweep's
        // expected error count changes under operators' feet.
        assert_eq!(wrong, 1_025);
        // Within four standard deviations of 1000 (sd = 30).
        assert!((880..=1_120).contains(&wrong), "{wrong}");
        let missing = Faults {
            missing_ratio: 0.1,
            seed: 42,
            ..Faults::default()
        };
        let both = names
            .iter()
            .filter(|n| faults.is_wrong(n) && missing.is_missing(n))
            .count();
        assert!(both < 200, "wrong and missing are independent: {both}");
    }

    #[test]
    fn wrong_names_match_case_insensitively_and_ratios_at_the_ends() {
        let f = Faults {
            wrong_names: vec![name("WWW.example.cn")],
            ..Faults::default()
        };
        assert!(f.is_wrong(&name("www.EXAMPLE.cn.")));
        assert!(!f.is_wrong(&name("ftp.example.cn.")));
        assert!(!f.is_missing(&name("www.example.cn.")));
        let all = Faults {
            wrong_ratio: 1.0,
            missing_ratio: 1.0,
            ..Faults::default()
        };
        assert!(all.is_wrong(&name("x.cn.")) && all.is_missing(&name("x.cn.")));
    }
}
