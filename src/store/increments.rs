//! From a batch and the session totals it found, the increments to add to
//! the experiment's counters. Both backends use this one derivation, so
//! that they agree to the last bit.
//!
//! A session's contribution to the session-level sums is a function of
//! its totals (y, m). When an update moves them from old to new, the sums
//! move by f(new) − f(old): summed over every update of a session, from
//! whichever sidecar, that telescopes to f(final), the value computed from
//! the raw data, provided each update saw the totals the previous one left
//! (the store's atomic update guarantees it).

use std::collections::BTreeMap;

use super::{Batch, Contribution, MetricKey, MetricTotals, SessionKey, SessionSums};

/// A session's totals of one metric at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Totals {
    pub y: f64,
    pub m: u64,
}

impl Totals {
    /// The totals after adding a contribution.
    pub fn plus(self, c: &Contribution) -> Totals {
        Totals {
            y: self.y + c.y,
            m: self.m.saturating_add(c.m),
        }
    }
}

/// Where the sample-ratio check's session counts are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct PhaseKey {
    pub experiment: String,
    pub variant: String,
    pub phase: String,
}

/// Counter increments one batch implies, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Increments {
    pub metrics: BTreeMap<MetricKey, MetricTotals>,
    pub phases: BTreeMap<PhaseKey, u64>,
}

impl Increments {
    /// The request-level part of a batch; session parts are added as the
    /// store learns each session's old totals.
    pub fn from_requests(batch: &Batch) -> Self {
        let mut increments = Increments::default();
        for (key, sums) in &batch.requests {
            let entry = increments.metrics.entry(key.clone()).or_default();
            entry.requests.add(sums);
        }
        increments
    }

    /// What one session update of one metric adds, given the totals the
    /// update found.
    pub fn add_session_metric(
        &mut self,
        key: &SessionKey,
        metric: &str,
        old: Totals,
        contribution: &Contribution,
    ) {
        let metric_key = MetricKey {
            experiment: key.experiment.clone(),
            variant: key.variant.clone(),
            metric: metric.to_string(),
        };
        let change = session_change(old, old.plus(contribution));
        self.metrics
            .entry(metric_key)
            .or_default()
            .sessions
            .add(&change);
    }

    /// Counts a session in `phase` when an update finds it new: its
    /// request count was `old_requests` and grows by `requests`.
    pub fn add_phase_if_new(
        &mut self,
        key: &SessionKey,
        phase: &str,
        old_requests: u64,
        requests: u64,
    ) {
        if old_requests == 0 && requests > 0 {
            let phase_key = PhaseKey {
                experiment: key.experiment.clone(),
                variant: key.variant.clone(),
                phase: phase.to_string(),
            };
            *self.phases.entry(phase_key).or_default() += 1;
        }
    }

    /// Number of counter rows or items these increments touch.
    pub fn len(&self) -> usize {
        self.metrics.len() + self.phases.len()
    }
}

/// How the session-level sums move when one session's totals go from
/// `old` to `new`; a session starts counting when its count leaves zero.
pub(super) fn session_change(old: Totals, new: Totals) -> SessionSums {
    let (m_old, m_new) = (old.m as f64, new.m as f64);
    SessionSums {
        sessions: u64::from(old.m == 0 && new.m > 0),
        sum_y: new.y - old.y,
        sum_y2: new.y * new.y - old.y * old.y,
        sum_m: new.m.saturating_sub(old.m),
        sum_m2: new
            .m
            .saturating_mul(new.m)
            .saturating_sub(old.m.saturating_mul(old.m)),
        sum_ym: new.y * m_new - old.y * m_old,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(sessions: &[&[f64]]) -> SessionSums {
        let mut sums = SessionSums::default();
        for values in sessions {
            let y: f64 = values.iter().sum();
            let m = values.len() as u64;
            sums.add(&SessionSums {
                sessions: 1,
                sum_y: y,
                sum_y2: y * y,
                sum_m: m,
                sum_m2: m * m,
                sum_ym: y * m as f64,
            });
        }
        sums
    }

    #[test]
    fn updates_in_any_split_telescope_to_the_direct_sums() {
        let session_a: &[f64] = &[3.0, 5.0, 1.0, 4.0];
        let session_b: &[f64] = &[2.0, 7.0];
        let mut sums = SessionSums::default();
        // Session a arrives in three updates, b in two.
        for (values, splits) in [(session_a, &[1, 3, 4][..]), (session_b, &[1, 2][..])] {
            let mut totals = Totals::default();
            let mut start = 0;
            for &end in splits {
                let part = &values[start..end];
                let c = Contribution {
                    y: part.iter().sum(),
                    m: part.len() as u64,
                };
                sums.add(&session_change(totals, totals.plus(&c)));
                totals = totals.plus(&c);
                start = end;
            }
        }
        assert_eq!(sums, direct(&[session_a, session_b]));
    }

    #[test]
    fn a_session_counts_once_in_the_phase_it_started() {
        let key = SessionKey {
            experiment: "e".into(),
            variant: "a".into(),
            session: "s".into(),
        };
        let mut inc = Increments::default();
        inc.add_phase_if_new(&key, "p1", 0, 2);
        inc.add_phase_if_new(&key, "p2", 2, 1);
        assert_eq!(inc.phases.len(), 1);
        assert_eq!(inc.phases.values().sum::<u64>(), 1);
    }
}
