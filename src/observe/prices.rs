//! Per-model token prices, from the configuration, for the cost metric.

use std::collections::BTreeMap;

use serde::Deserialize;

/// USD per 1,000 tokens for one model (or model-id prefix).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

/// Prices by model-id prefix; the longest matching prefix wins, so a
/// geography prefix (`us.`) or an ARN is matched on its model part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    by_prefix: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(by_prefix: BTreeMap<String, Price>) -> Self {
        Self { by_prefix }
    }

    /// The cost of a call in USD, when the model has a price and both
    /// token counts are known.
    pub fn cost(&self, model: &str, input: Option<u64>, output: Option<u64>) -> Option<f64> {
        let base = crate::rewrite::base_model_id(model);
        let price = self
            .by_prefix
            .iter()
            .filter(|(prefix, _)| base.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| *p)?;
        let (input, output) = (input? as f64, output? as f64);
        Some(input / 1000.0 * price.input_per_1k + output / 1000.0 * price.output_per_1k)
    }
}
