//! Corrections for testing several variants or metrics at once.
//!
//! Holm's step-down method controls the family-wise error rate (the chance
//! of any false promotion) under any dependence between the tests, so it
//! is used for the decision across variants. Benjamini–Hochberg controls
//! the false discovery rate, which suits exploratory metrics where a few
//! false leads are acceptable. Both return adjusted p-values in input
//! order, to be compared with the unadjusted alpha.

/// Holm-adjusted p-values: the i-th smallest p is multiplied by m − i + 1,
/// then made non-decreasing in rank and capped at 1.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let order = ascending_order(p_values);
    let mut adjusted = vec![1.0; m];
    let mut running_max: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        let scaled = (m - rank) as f64 * clean(p_values[index]);
        running_max = running_max.max(scaled.min(1.0));
        adjusted[index] = running_max;
    }
    adjusted
}

/// Benjamini–Hochberg-adjusted p-values (q-values): the i-th smallest p is
/// multiplied by m / i, then made non-decreasing in rank from the largest
/// down and capped at 1.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let order = ascending_order(p_values);
    let mut adjusted = vec![1.0; m];
    let mut running_min: f64 = 1.0;
    for (rank, &index) in order.iter().enumerate().rev() {
        let scaled = m as f64 / (rank + 1) as f64 * clean(p_values[index]);
        running_min = running_min.min(scaled);
        adjusted[index] = running_min;
    }
    adjusted
}

/// A p-value that is not a number counts as 1, the conservative choice.
fn clean(p: f64) -> f64 {
    if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) }
}

fn ascending_order(p_values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| clean(p_values[a]).total_cmp(&clean(p_values[b])));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_test_is_left_alone() {
        assert_eq!(holm(&[0.03]), vec![0.03]);
        assert_eq!(benjamini_hochberg(&[0.03]), vec![0.03]);
    }

    #[test]
    fn holm_is_monotone_in_rank() {
        // 0.01·3 = 0.03, 0.03·2 = 0.06, then max(0.06, 0.04·1) = 0.06.
        let adjusted = holm(&[0.04, 0.01, 0.03]);
        let expected = [0.06, 0.03, 0.06];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-15, "{adjusted:?}");
        }
    }

    #[test]
    fn empty_input_is_empty_output() {
        assert!(holm(&[]).is_empty());
        assert!(benjamini_hochberg(&[]).is_empty());
    }
}
