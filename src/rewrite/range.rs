//! Documented value ranges and clamping into them.

use serde::Deserialize;

use super::report::ClampReason;

/// A closed range of floats; a missing bound does not limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Range {
    /// The value moved inside the range, and why it moved.
    pub fn clamp(self, v: f64) -> (f64, Option<ClampReason>) {
        match (self.min, self.max) {
            (Some(lo), _) if v < lo => (lo, Some(ClampReason::BelowMinimum)),
            (_, Some(hi)) if v > hi => (hi, Some(ClampReason::AboveMaximum)),
            _ => (v, None),
        }
    }

    /// The tighter of two ranges, bound by bound.
    pub fn intersect(self, other: Range) -> Range {
        let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
            (Some(x), Some(y)) => Some(f(x, y)),
            (x, y) => x.or(y),
        };
        Range {
            min: pick(self.min, other.min, f64::max),
            max: pick(self.max, other.max, f64::min),
        }
    }

    pub fn is_ordered(self) -> bool {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => lo <= hi,
            _ => true,
        }
    }
}

/// A range of whole numbers (top_k).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntRange {
    pub min: Option<u32>,
    pub max: Option<u32>,
}

impl IntRange {
    /// The value moved inside the range, and why it moved.
    pub fn clamp(self, v: u32) -> (u32, Option<ClampReason>) {
        match (self.min, self.max) {
            (Some(lo), _) if v < lo => (lo, Some(ClampReason::BelowMinimum)),
            (_, Some(hi)) if v > hi => (hi, Some(ClampReason::AboveMaximum)),
            _ => (v, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_both_ways() {
        let r = Range {
            min: Some(0.0),
            max: Some(1.0),
        };
        assert_eq!(r.clamp(1.5), (1.0, Some(ClampReason::AboveMaximum)));
        assert_eq!(r.clamp(-0.1), (0.0, Some(ClampReason::BelowMinimum)));
        assert_eq!(r.clamp(0.4), (0.4, None));
        assert_eq!(
            IntRange {
                min: Some(1),
                max: Some(200)
            }
            .clamp(250),
            (200, Some(ClampReason::AboveMaximum))
        );
    }
}
