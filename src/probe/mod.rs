//! The probe engine: one DNS query to one server address over one transport is one
//! measurement (MATRIX.md, "probe").

mod outcome;
pub use outcome::{Outcome, Verdict};
