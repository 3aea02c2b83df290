//! The four grades of the plan and how they are named.

use serde::{Deserialize, Serialize};

/// A grade of the plan's matrix. Ordered: `IV < III < II < I`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// 一般 (general).
    IV = 1,
    /// 较大 (relatively major).
    III = 2,
    /// 重大 (major).
    II = 3,
    /// 特别重大 (extraordinarily serious).
    I = 4,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [Level::IV, Level::III, Level::II, Level::I];

    /// The grade gauge value: 1 = IV … 4 = I (0 is "no grade").
    pub fn gauge(self) -> i64 {
        self as i64
    }

    /// From the gauge value.
    pub fn from_gauge(v: i64) -> Option<Level> {
        Self::ALL.into_iter().find(|l| l.gauge() == v)
    }

    /// "I", "II", "III", "IV".
    pub fn roman(self) -> &'static str {
        match self {
            Level::I => "I",
            Level::II => "II",
            Level::III => "III",
            Level::IV => "IV",
        }
    }

    /// From "I" … "IV".
    pub fn from_roman(s: &str) -> Option<Level> {
        Self::ALL.into_iter().find(|l| l.roman() == s)
    }

    /// Chinese name (the plan's words).
    pub fn zh(self) -> &'static str {
        match self {
            Level::I => "特别重大",
            Level::II => "重大",
            Level::III => "较大",
            Level::IV => "一般",
        }
    }

    /// English name.
    pub fn en(self) -> &'static str {
        match self {
            Level::I => "extraordinarily serious",
            Level::II => "major",
            Level::III => "relatively major",
            Level::IV => "general",
        }
    }

    /// Display colour.
    pub fn colour(self) -> &'static str {
        match self {
            Level::I => "red",
            Level::II => "orange",
            Level::III => "yellow",
            Level::IV => "blue",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (level {}, {})",
            self.zh(),
            self.en(),
            self.roman(),
            self.colour()
        )
    }
}
