//! Each object's last hour, one point a minute, for the status page's sparklines: a ring of
//! fixed size per object, fed by the tick's publish with the injected clock's time.

use crate::config::ObjectKey;
use std::collections::HashMap;

/// How many one-minute points of each object the status page's sparklines keep: one hour.
pub const TREND_MINUTES: usize = 60;

/// One object's last hour, one point a minute, for the status page's sparklines: the success
/// ratio and the data error ratio over all its addresses, as the tick saw them in that minute
/// (the last tick of a minute wins). A ring of fixed size — 60 × 2 × f32, about 500 bytes an
/// object — indexed by minute; NaN where no tick recorded anything.
#[derive(Debug, Clone)]
pub struct Trend {
    /// The newest minute recorded (injected clock's Unix ms / 60 000).
    last_minute: u64,
    success: [f32; TREND_MINUTES],
    data_error: [f32; TREND_MINUTES],
}

impl Trend {
    fn new(minute: u64) -> Self {
        Self {
            last_minute: minute,
            success: [f32::NAN; TREND_MINUTES],
            data_error: [f32::NAN; TREND_MINUTES],
        }
    }

    /// Records the ratios of `minute`; the minutes skipped since the last one become gaps. A
    /// minute older than the newest (a clock set back) is ignored.
    pub fn record(&mut self, minute: u64, success: Option<f64>, data_error: Option<f64>) {
        if minute < self.last_minute {
            return;
        }
        let n = TREND_MINUTES as u64;
        for k in 1..=(minute - self.last_minute).min(n) {
            let i = ((self.last_minute + k) % n) as usize;
            self.success[i] = f32::NAN;
            self.data_error[i] = f32::NAN;
        }
        self.last_minute = minute;
        let i = (minute % n) as usize;
        self.success[i] = success.map_or(f32::NAN, |v| v as f32);
        self.data_error[i] = data_error.map_or(f32::NAN, |v| v as f32);
    }

    /// The newest minute recorded.
    pub fn last_minute(&self) -> u64 {
        self.last_minute
    }

    /// The hour up to the newest minute, oldest first: (success ratio, data error ratio),
    /// None where nothing was recorded.
    pub fn points(&self) -> impl Iterator<Item = (Option<f32>, Option<f32>)> + '_ {
        let n = TREND_MINUTES as u64;
        let known = |v: f32| (!v.is_nan()).then_some(v);
        (1..=n).map(move |k| {
            let i = ((self.last_minute + k) % n) as usize;
            (known(self.success[i]), known(self.data_error[i]))
        })
    }
}

/// Every object's [`Trend`], by object key. The tick's publish records one point per object
/// per tick and drops the objects that left the configuration, so it holds one ring per
/// configured object at most.
#[derive(Debug, Clone, Default)]
pub struct Trends {
    by_object: HashMap<ObjectKey, Trend>,
}

impl Trends {
    /// Records `key`'s ratios of `minute` (Unix ms / 60 000).
    pub fn record(
        &mut self,
        key: &ObjectKey,
        minute: u64,
        success: Option<f64>,
        data_error: Option<f64>,
    ) {
        match self.by_object.get_mut(key) {
            Some(t) => t.record(minute, success, data_error),
            None => {
                let mut t = Trend::new(minute);
                t.record(minute, success, data_error);
                self.by_object.insert(key.clone(), t);
            }
        }
    }

    /// Keeps only the objects for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&ObjectKey) -> bool) {
        self.by_object.retain(|k, _| keep(k));
    }

    /// One object's trend.
    pub fn get(&self, key: &ObjectKey) -> Option<&Trend> {
        self.by_object.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::{Trend, TREND_MINUTES};

    #[test]
    fn a_trend_keeps_one_hour_a_point_a_minute_with_gaps() {
        let mut t = Trend::new(1_000);
        t.record(1_000, Some(1.0), Some(0.0));
        t.record(1_001, Some(0.9), None);
        // The last tick of a minute wins.
        t.record(1_001, Some(0.5), Some(0.25));
        t.record(1_003, Some(0.0), Some(1.0));
        // A clock set back is ignored.
        t.record(1_002, Some(0.7), Some(0.7));
        let p: Vec<_> = t.points().collect();
        assert_eq!(p.len(), TREND_MINUTES);
        assert_eq!(t.last_minute(), 1_003);
        assert_eq!(p[TREND_MINUTES - 1], (Some(0.0), Some(1.0)));
        assert_eq!(p[TREND_MINUTES - 2], (None, None), "minute 1002 is a gap");
        assert_eq!(p[TREND_MINUTES - 3], (Some(0.5), Some(0.25)));
        assert_eq!(p[TREND_MINUTES - 4], (Some(1.0), Some(0.0)));
        assert!(p[..TREND_MINUTES - 4].iter().all(|x| *x == (None, None)));
        // Two hours later only the newest point is left: the ring never grows.
        t.record(1_123, Some(0.8), Some(0.1));
        let p: Vec<_> = t.points().collect();
        assert_eq!(p.iter().filter(|x| x.0.is_some()).count(), 1);
        assert_eq!(std::mem::size_of::<Trend>(), 8 + 2 * 4 * TREND_MINUTES);
    }
}
