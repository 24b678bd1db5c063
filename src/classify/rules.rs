//! The keyword and pattern rule classifier.
//!
//! Each rule names an intent, keywords and patterns, and a weight. Every
//! distinct keyword or pattern found in the message adds the rule's weight
//! to its intent's score; the best-scoring intent wins when its score
//! reaches the threshold, a tie going to the intent whose first rule comes
//! first. So several weak clues can outweigh one, and a strong phrase
//! ("where is my order") outweighs a passing word ("volume").

use serde::{Deserialize, Serialize};

use super::pattern::Pattern;
use super::text::{is_word_char, normalize};
use super::{Classification, ClassifierSource};

const BUILTIN: &str = include_str!("../../data/intent_rules.toml");

/// An intent the classifiers may answer, with a one-line description for
/// the model classifier's prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentInfo {
    /// The intent's name, as profiles and the `x-intent` header spell it.
    pub name: String,
    /// What kind of message belongs to it.
    pub description: String,
}

/// A rule as written in data or configuration (`[[intent_rules]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleEntry {
    /// Unique name; a configured rule with a built-in rule's name replaces it.
    pub name: String,
    /// The intent the rule votes for.
    pub intent: String,
    /// Words and phrases, matched case-insensitively on word boundaries; a
    /// trailing `*` lets the last word continue (`recommend*`).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Patterns in the syntax of [`Pattern`].
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Score added per keyword or pattern found; 0 disables the rule.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    threshold: f64,
    intents: Vec<IntentInfo>,
    intent_rules: Vec<RuleEntry>,
}

#[derive(Debug, Clone)]
struct Keyword {
    text: String,
    /// The keyword's last word may continue in the message.
    prefix: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    entry: RuleEntry,
    keywords: Vec<Keyword>,
    patterns: Vec<Pattern>,
}

/// A compiled, validated set of rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    threshold: f64,
    intents: Vec<IntentInfo>,
    rules: Vec<Rule>,
}

impl RuleSet {
    /// The rules compiled into the binary; with no rules (and the error
    /// logged) in the unexpected case the embedded file fails its checks.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN).unwrap_or_else(|errors| {
            tracing::error!(?errors, "built-in intent rules are invalid");
            Self {
                threshold: 1.0,
                intents: Vec::new(),
                rules: Vec::new(),
            }
        })
    }

    /// Reads a rule file: `threshold`, `[[intents]]`, `[[intent_rules]]`.
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let file: RulesFile = toml::from_str(text)
            .map_err(|e| vec![format!("intent_rules: {}", e.message().trim())])?;
        let bad_intents: Vec<String> = file
            .intents
            .iter()
            .enumerate()
            .filter(|(i, info)| {
                !is_intent_name(&info.name)
                    || file.intents[..*i].iter().any(|o| o.name == info.name)
            })
            .map(|(i, info)| format!("intents[{i}].name: {:?} is invalid or repeated", info.name))
            .collect();
        if !bad_intents.is_empty() {
            return Err(bad_intents);
        }
        let mut set = Self {
            threshold: 1.0,
            intents: file.intents,
            rules: Vec::new(),
        };
        set.apply(&file.intent_rules, Some(file.threshold))?;
        Ok(set)
    }

    /// The built-in rules with the configuration's `[[intent_rules]]`
    /// applied (a rule named like a built-in one replaces it in place,
    /// others are added after) and, if given, its threshold. Errors read
    /// `intent_rules[INDEX].FIELD: message`.
    pub fn with_overrides(
        entries: &[RuleEntry],
        threshold: Option<f64>,
    ) -> Result<Self, Vec<String>> {
        let mut set = Self::builtin();
        set.apply(entries, threshold)?;
        Ok(set)
    }

    fn apply(&mut self, entries: &[RuleEntry], threshold: Option<f64>) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if let Some(t) = threshold.filter(|t| !(t.is_finite() && *t > 0.0)) {
            errors.push(format!(
                "intent_rules.threshold: must be a positive number, not {t}"
            ));
        }
        let mut compiled = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if entries[..i].iter().any(|e| e.name == entry.name) {
                errors.push(format!(
                    "intent_rules[{i}].name: {:?} is used by an earlier rule",
                    entry.name
                ));
            }
            match compile(entry) {
                Ok(rule) => compiled.push(rule),
                Err(e) => errors.extend(e.into_iter().map(|m| format!("intent_rules[{i}].{m}"))),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.threshold = threshold.unwrap_or(self.threshold);
        for rule in compiled {
            if !self.intents.iter().any(|i| i.name == rule.entry.intent) {
                let name = rule.entry.intent.clone();
                self.intents.push(IntentInfo {
                    name,
                    description: String::new(),
                });
            }
            match self
                .rules
                .iter_mut()
                .find(|r| r.entry.name == rule.entry.name)
            {
                Some(slot) => *slot = rule,
                None => self.rules.push(rule),
            }
        }
        Ok(())
    }

    /// The score an intent needs to be chosen.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The intents known to the rules, in order of first mention.
    pub fn intents(&self) -> &[IntentInfo] {
        &self.intents
    }

    /// Every intent's score for `text`, in rule order; intents no rule
    /// matched are left out.
    pub fn scores(&self, text: &str) -> Vec<(String, f64)> {
        self.tally(text)
            .into_iter()
            .map(|t| (t.intent.to_string(), t.score))
            .collect()
    }

    /// The best intent for `text` if its score reaches the threshold.
    pub fn classify_text(&self, text: &str) -> Option<Classification> {
        let mut best: Option<Tally> = None;
        for t in self.tally(text) {
            // Strictly greater: on a tie the earlier intent stays.
            if best.as_ref().is_none_or(|b| t.score > b.score) {
                best = Some(t);
            }
        }
        let best = best.filter(|b| b.score >= self.threshold)?;
        Some(Classification {
            intent: best.intent.to_string(),
            source: ClassifierSource::Rules,
            rule: Some(best.top_rule.to_string()),
            score: best.score,
        })
    }

    fn tally(&self, text: &str) -> Vec<Tally<'_>> {
        let normalized = normalize(text);
        let chars: Vec<char> = normalized.chars().collect();
        let mut tallies: Vec<Tally> = Vec::new();
        for rule in self.rules.iter().filter(|r| r.entry.weight > 0.0) {
            let hits = rule
                .keywords
                .iter()
                .filter(|k| keyword_found(&normalized, k))
                .count()
                + rule.patterns.iter().filter(|p| p.is_match(&chars)).count();
            if hits == 0 {
                continue;
            }
            let points = rule.entry.weight * hits as f64;
            let (intent, name) = (rule.entry.intent.as_str(), rule.entry.name.as_str());
            match tallies.iter_mut().find(|t| t.intent == intent) {
                Some(t) => t.add(points, name),
                None => tallies.push(Tally {
                    intent,
                    score: points,
                    top_rule: name,
                    top_points: points,
                }),
            }
        }
        tallies
    }
}

/// One intent's running score.
struct Tally<'a> {
    intent: &'a str,
    score: f64,
    top_rule: &'a str,
    top_points: f64,
}

impl<'a> Tally<'a> {
    fn add(&mut self, points: f64, rule: &'a str) {
        self.score += points;
        if points > self.top_points {
            self.top_points = points;
            self.top_rule = rule;
        }
    }
}

/// True when `keyword` occurs in `text` (both normalised) with word
/// boundaries wherever the keyword starts or ends with a word character.
fn keyword_found(text: &str, keyword: &Keyword) -> bool {
    let k = &keyword.text;
    let starts_word = k.chars().next().is_some_and(is_word_char);
    let ends_word = !keyword.prefix && k.chars().next_back().is_some_and(is_word_char);
    text.match_indices(k.as_str()).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + k.len()..].chars().next();
        let cut_before = starts_word && before.is_some_and(is_word_char);
        let cut_after = ends_word && after.is_some_and(is_word_char);
        !(cut_before || cut_after)
    })
}

/// Validates and compiles one entry; errors are `FIELD: message`.
fn compile(entry: &RuleEntry) -> Result<Rule, Vec<String>> {
    let mut errors = Vec::new();
    let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c);
    if entry.name.is_empty() || !entry.name.chars().all(name_ok) {
        errors.push("name: must be lowercase letters, digits, '_', '.' or '-'".to_string());
    }
    if !is_intent_name(&entry.intent) {
        errors.push("intent: must be lowercase letters, digits and underscores".to_string());
    }
    if !(entry.weight.is_finite() && entry.weight >= 0.0) {
        errors.push(format!(
            "weight: must be a number >= 0, not {}",
            entry.weight
        ));
    }
    if entry.weight > 0.0 && entry.keywords.is_empty() && entry.patterns.is_empty() {
        errors.push("keywords: a rule needs at least one keyword or pattern".to_string());
    }
    let mut keywords = Vec::new();
    for raw in &entry.keywords {
        let prefix = raw.trim_end().ends_with('*');
        let text = normalize(raw.trim_end().trim_end_matches('*'));
        if text.is_empty() || text.contains('*') {
            errors.push(format!(
                "keywords: {raw:?} must have text, with '*' only at its end"
            ));
        } else if keywords
            .iter()
            .any(|k: &Keyword| k.text == text && k.prefix == prefix)
        {
            // A repeat would count twice and silently double its weight.
            errors.push(format!("keywords: {raw:?} is listed twice"));
        } else {
            keywords.push(Keyword { text, prefix });
        }
    }
    let mut patterns = Vec::new();
    for raw in &entry.patterns {
        match Pattern::new(raw) {
            Ok(p) => patterns.push(p),
            Err(e) => errors.push(format!("patterns: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(Rule {
            entry: entry.clone(),
            keywords,
            patterns,
        })
    } else {
        Err(errors)
    }
}

/// Intent names: lowercase letters, digits and underscores, as in profiles
/// and the `x-intent` header.
fn is_intent_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
