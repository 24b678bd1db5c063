//! How the store's background work is faring, for `/readyz` details and
//! metrics. Readiness must not depend on it: a sidecar serves on its last
//! good snapshot while the store is away.

use std::sync::Mutex;

use serde::Serialize;

use super::StoreError;
use super::document::now_ms;

/// Longest error text kept; SDK error chains can be long.
const MAX_ERROR_CHARS: usize = 300;

/// The state of one background activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HealthState {
    /// Last success, in milliseconds since the Unix epoch.
    pub last_success_ms: Option<u64>,
    /// Last failure, in milliseconds since the Unix epoch.
    pub last_failure_ms: Option<u64>,
    /// What the last failure said.
    pub last_error: Option<String>,
    /// Failures since the last success.
    pub consecutive_failures: u64,
}

/// One activity's health, updated by its task, read by anyone.
#[derive(Debug, Default)]
pub struct ComponentHealth {
    state: Mutex<HealthState>,
}

impl ComponentHealth {
    pub fn record_success(&self) {
        self.update(|s| {
            s.last_success_ms = Some(now_ms());
            s.consecutive_failures = 0;
        });
    }

    pub fn record_failure(&self, error: &StoreError) {
        let text: String = error.to_string().chars().take(MAX_ERROR_CHARS).collect();
        self.update(|s| {
            s.last_failure_ms = Some(now_ms());
            s.last_error = Some(text);
            s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        });
    }

    /// A copy of the current state.
    pub fn state(&self) -> HealthState {
        match self.state.lock() {
            Ok(state) => state.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut HealthState)) {
        match self.state.lock() {
            Ok(mut state) => change(&mut state),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }
}

/// The store's health: the refresh of documents and the flush of results.
#[derive(Debug, Default)]
pub struct StoreHealth {
    pub refresh: ComponentHealth,
    pub flush: ComponentHealth,
}

/// A serialisable copy of [`StoreHealth`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreHealthReport {
    pub refresh: HealthState,
    pub flush: HealthState,
}

impl StoreHealth {
    pub fn report(&self) -> StoreHealthReport {
        StoreHealthReport {
            refresh: self.refresh.state(),
            flush: self.flush.state(),
        }
    }
}
