//! The latency of one slice: a sparse, sorted list of HDR histogram buckets.
//!
//! A dense [`hdrhistogram::Histogram`] over 1 µs..60 s at 2 significant digits has 2,560
//! counters (20 KiB with `u64` counts); thirty of them per server would be 600 KiB. A slice of a
//! DNS server sees at most a few hundred successful probes, so almost every counter would be
//! zero. This type keeps only the buckets that were hit, each as one packed `u32`:
//!
//! ```text
//!  31          20 19                  0
//! ┌──────────────┬─────────────────────┐
//! │  bucket key  │        count        │   key: 12 bits (< 4096), count: 20 bits (< 2^20)
//! └──────────────┴─────────────────────┘
//! ```
//!
//! The key is the bucket's index in exactly the histogram that [`super::latency`] builds at
//! snapshot time (same bounds, same precision); [`key_for_micros`] and [`micros_for_key`] repeat
//! hdrhistogram's private index arithmetic, and a test checks them against the crate for every
//! bucket. Entries are sorted by packed value, hence by key, so a lookup is a binary search. A
//! bucket whose count would pass 2^20 − 1 in one slice gets a second entry with the same key;
//! that needs over a million successful probes in one bucket of one slice, which the per-server
//! rate limit (100/s by default) rules out, but it keeps every count exact if it ever happens.
//!
//! Growth: the list doubles as usual but its capacity stops at [`KEY_COUNT`] (every bucket
//! once), so a slice never holds more than `4 × KEY_COUNT` bytes of latency unless a bucket
//! overflows as described above.

use std::time::Duration;

/// Lowest value the latency histogram discerns, in microseconds.
pub(super) const LOWEST_US: u64 = 1;
/// Highest value tracked, in microseconds (60 s, six times the default probe timeout); longer
/// round-trip times are clamped to it.
pub(super) const HIGHEST_US: u64 = 60_000_000;
/// Significant decimal digits kept: each bucket is at most 1/128 (< 0.8%) of its value wide.
pub(super) const SIGFIG: u8 = 2;

// hdrhistogram's geometry for (low = 1, sigfig = 2): single-unit resolution up to 2·10² = 200,
// rounded up to a power of two: 256 sub-buckets, of which each bucket after the first uses the
// upper half (128).
const UNIT_MAGNITUDE: u32 = 0; // log2(LOWEST_US)
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 8; // ceil(log2(2 * 10^SIGFIG))
const SUB_BUCKET_HALF_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF: u64 = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = ((1 << SUB_BUCKET_COUNT_MAGNITUDE) - 1) << UNIT_MAGNITUDE;
const LEADING_ZERO_BASE: u32 = 64 - UNIT_MAGNITUDE - SUB_BUCKET_COUNT_MAGNITUDE;

/// Number of distinct bucket keys for values in `0..=HIGHEST_US` (2,533).
pub(super) const KEY_COUNT: usize = key_for_micros(HIGHEST_US) as usize + 1;

const KEY_BITS: u32 = 12;
const COUNT_BITS: u32 = 32 - KEY_BITS;
const COUNT_MAX: u32 = (1 << COUNT_BITS) - 1;
const _: () = assert!(
    KEY_COUNT <= 1 << KEY_BITS,
    "bucket keys must fit in 12 bits"
);

/// The histogram bucket key of `us` microseconds (values above [`HIGHEST_US`] are clamped).
/// Equal to hdrhistogram's index of the bucket holding `us`.
pub(super) const fn key_for_micros(us: u64) -> u16 {
    let v = if us > HIGHEST_US { HIGHEST_US } else { us };
    let bucket = LEADING_ZERO_BASE - (v | SUB_BUCKET_MASK).leading_zeros();
    let sub = v >> (bucket + UNIT_MAGNITUDE);
    // `sub` is in [SUB_BUCKET_HALF, 2·SUB_BUCKET_HALF) for bucket > 0, so this cannot underflow;
    // for bucket 0 the base (1 << 7) covers it.
    (((bucket as u64 + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub - SUB_BUCKET_HALF) as u16
}

/// The lowest value (µs) of the bucket with key `key`, the value recorded into the snapshot
/// histogram. Keys past the last bucket are clamped to it.
pub(super) const fn micros_for_key(key: u16) -> u64 {
    let index = if key as usize >= KEY_COUNT {
        KEY_COUNT as u64 - 1
    } else {
        key as u64
    };
    let bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let sub = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 {
        (sub - SUB_BUCKET_HALF) << UNIT_MAGNITUDE
    } else {
        sub << (bucket as u32 + UNIT_MAGNITUDE)
    }
}

/// Microseconds of a round-trip time, clamped to [`HIGHEST_US`].
pub(super) fn micros(rtt: Duration) -> u64 {
    u64::try_from(rtt.as_micros())
        .unwrap_or(u64::MAX)
        .min(HIGHEST_US)
}

/// The latency histogram of one slice, sparse (see the module docs).
#[derive(Debug, Clone, Default)]
pub(super) struct LatencyBins {
    /// Packed `key << 20 | count`, sorted; only buckets that were hit.
    entries: Vec<u32>,
}

impl LatencyBins {
    /// Counts one value in bucket `key`.
    pub(super) fn record(&mut self, key: u16) {
        let key = u32::from(key);
        let pos = self.entries.partition_point(|&e| e >> COUNT_BITS <= key);
        if let Some(last) = pos.checked_sub(1).and_then(|i| self.entries.get_mut(i)) {
            if *last >> COUNT_BITS == key && *last & COUNT_MAX < COUNT_MAX {
                *last += 1;
                return;
            }
        }
        if self.entries.len() == self.entries.capacity() {
            self.grow();
        }
        self.entries.insert(pos, key << COUNT_BITS | 1);
    }

    /// Doubles the capacity, but not past one entry per bucket: a list that holds every bucket
    /// needs no slack, and slack would be the largest term of the worst case.
    fn grow(&mut self) {
        let cap = self.entries.capacity();
        let target = if cap < KEY_COUNT {
            cap.saturating_mul(2).clamp(4, KEY_COUNT)
        } else {
            cap.saturating_mul(2)
        };
        self.entries
            .reserve_exact(target.saturating_sub(self.entries.len()));
    }

    /// Forgets every count, keeping the allocation for the next slice that reuses this slot.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// `(bucket key, count)` in key order (a key may repeat after an overflow).
    pub(super) fn iter(&self) -> impl Iterator<Item = (u16, u32)> + '_ {
        self.entries
            .iter()
            .map(|&e| ((e >> COUNT_BITS) as u16, e & COUNT_MAX))
    }

    /// Number of stored entries.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Heap bytes held (capacity, not length: that is what the allocator gave us).
    pub(super) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    fn reference() -> Histogram<u64> {
        Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG).expect("valid bounds")
    }

    #[test]
    fn key_count_matches_the_histogram() {
        let h = reference();
        assert_eq!(KEY_COUNT, 2_533);
        // The reference histogram has room for every key (its last bucket is only partly used).
        assert!(h.distinct_values() >= KEY_COUNT, "{}", h.distinct_values());
    }

    #[test]
    fn codec_agrees_with_hdrhistogram_for_every_bucket() {
        let h = reference();
        let mut one = reference();
        for key in 0..KEY_COUNT as u16 {
            let low = micros_for_key(key);
            assert_eq!(h.lowest_equivalent(low), low, "key {key} is a bucket start");
            assert_eq!(key_for_micros(low), key);
            let high = h.highest_equivalent(low).min(HIGHEST_US);
            assert_eq!(key_for_micros(high), key, "key {key}: {low}..={high}");
            if key > 0 {
                assert_eq!(key_for_micros(low - 1), key - 1, "buckets are contiguous");
            }
            // hdrhistogram puts this value in its own bucket number `key`: the k-th recorded
            // bucket in value order is the k-th key.
            one.reset();
            one.record(low).expect("in range");
            let idx = one
                .iter_all()
                .position(|v| v.count_since_last_iteration() == 1);
            assert_eq!(idx, Some(key as usize));
        }
        for v in (0..HIGHEST_US)
            .step_by(997)
            .chain([HIGHEST_US, 5_000_000, 4_999_999])
        {
            assert_eq!(
                micros_for_key(key_for_micros(v)),
                h.lowest_equivalent(v),
                "{v}"
            );
        }
        assert_eq!(key_for_micros(u64::MAX), key_for_micros(HIGHEST_US));
        assert_eq!(
            micros_for_key(u16::MAX),
            micros_for_key(KEY_COUNT as u16 - 1)
        );
    }

    #[test]
    fn bins_count_exactly_and_stay_sorted() {
        let mut b = LatencyBins::default();
        for key in [9_u16, 3, 9, 2_000, 3, 9] {
            b.record(key);
        }
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            vec![(3, 2), (9, 3), (2_000, 1)]
        );
        b.clear();
        assert_eq!(b.iter().count(), 0);
        assert!(b.heap_bytes() > 0, "clear keeps the allocation");
    }

    #[test]
    fn capacity_stops_at_one_entry_per_bucket() {
        let mut b = LatencyBins::default();
        for key in (0..KEY_COUNT as u16).rev() {
            b.record(key);
        }
        assert_eq!(b.len(), KEY_COUNT);
        assert_eq!(b.heap_bytes(), KEY_COUNT * 4);
    }

    #[test]
    fn a_full_bucket_spills_into_a_second_entry() {
        let mut b = LatencyBins::default();
        for _ in 0..=COUNT_MAX {
            b.record(7);
        }
        b.record(6);
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            vec![(6, 1), (7, COUNT_MAX), (7, 1)]
        );
    }
}
