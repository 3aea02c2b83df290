//! A reference that can be replaced while it is in use (a re-transfer after a serial change).

use super::delegations::Delegations;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The reference of one TLD as its samplers see it: the current [`Delegations`] and a
/// generation number that changes whenever they are replaced, so a sampler can start a new
/// pass over the new data instead of finishing one over the old.
#[derive(Debug)]
pub struct LiveReference {
    current: RwLock<Arc<Delegations>>,
    generation: AtomicU64,
}

impl LiveReference {
    /// A reference holding `d`, generation 0.
    pub fn new(d: Delegations) -> Self {
        Self {
            current: RwLock::new(Arc::new(d)),
            generation: AtomicU64::new(0),
        }
    }

    /// The delegations in force.
    pub fn get(&self) -> Arc<Delegations> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the delegations (the old ones are freed when the last pass over them ends).
    pub fn replace(&self, d: Delegations) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(d);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Changes with every [`LiveReference::replace`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
