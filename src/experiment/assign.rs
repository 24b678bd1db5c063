//! Sticky, deterministic assignment of sessions to variants.
//!
//! A session's position is SHA-256 of `experiment_id:session_id`, read as
//! a number in [0, 1). Each variant owns a slice of [0, 1) sized by its
//! weight, so the variant depends on the position alone; within its slice,
//! the session takes part when its offset is below the rollout coverage.
//! Raising the coverage therefore only lets sessions in: none ever moves
//! from one variant to another, and every sidecar makes the same choice.

use sha2::{Digest, Sha256};

/// A session's position in [0, 1) for one experiment.
pub fn position(experiment_id: &str, session: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(experiment_id.as_bytes())
        .chain_update(b":")
        .chain_update(session.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 53 bits fill an f64's mantissa exactly: the result is uniform on a
    // grid of 2^-53 and strictly below 1.
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// Where a session falls: its variant's index, and whether it is inside
/// the current coverage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub variant: usize,
    pub covered: bool,
    /// The offset within the variant's slice, in [0, 1): the coverage at
    /// which this session enters the experiment.
    pub entry_coverage: f64,
}

/// Places a position among variants of the given weights (summing to 1).
pub fn place(position: f64, weights: &[f64], coverage: f64) -> Placement {
    let mut start = 0.0;
    for (index, weight) in weights.iter().enumerate() {
        let end = start + weight;
        let last = index + 1 == weights.len();
        // The last slice also takes the rounding gap below 1.0.
        if position < end || last {
            let offset = if *weight > 0.0 {
                ((position - start) / weight).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let entry_coverage = offset.min(1.0 - f64::EPSILON);
            return Placement {
                variant: index,
                covered: entry_coverage < coverage,
                entry_coverage,
            };
        }
        start = end;
    }
    Placement {
        variant: 0,
        covered: false,
        entry_coverage: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_pinned_by_test_vectors() {
        // Computed with Python's hashlib, independently of this code:
        // int.from_bytes(sha256(b"exp-1:session-42").digest()[:8]) >> 11,
        // divided by 2**53.
        let vectors = [
            ("exp-1", "session-42", 0.9174868594629139),
            ("checkout-temp", "user-7", 0.31045350425690466),
            ("exp", "s0", 0.48997215387518434),
        ];
        for (experiment, session, expected) in vectors {
            assert_eq!(
                position(experiment, session),
                expected,
                "{experiment}:{session}"
            );
        }
    }

    #[test]
    fn raising_coverage_never_moves_a_session() {
        let weights = [0.5, 0.3, 0.2];
        for i in 0..10_000 {
            let p = position("exp", &format!("s{i}"));
            let low = place(p, &weights, 0.05);
            let high = place(p, &weights, 0.5);
            assert_eq!(low.variant, high.variant);
            assert!(
                !low.covered || high.covered,
                "a session left when coverage rose"
            );
        }
    }

    #[test]
    fn full_coverage_covers_everyone_and_zero_nobody() {
        for i in 0..1_000 {
            let p = position("exp", &format!("s{i}"));
            assert!(place(p, &[0.5, 0.5], 1.0).covered);
            assert!(!place(p, &[0.5, 0.5], 0.0).covered);
        }
    }
}
