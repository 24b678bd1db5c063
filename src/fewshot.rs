//! The few-shot example library and the per-session choice of examples.
//!
//! Examples are data (`data/few_shots.toml`, compiled in); the sidecar's
//! configuration can add more as `[[few_shots]]` entries. Each example
//! belongs to one intent and carries tags saying what it teaches:
//! - `aligned`: a typical request answered the way the intent's prompt asks;
//! - `edge_case`: a misspelled title, missing data, a spoiler request...;
//! - `diverse`: one kind of request (its `sub_category`) among several;
//! - `negative`: a request once answered wrongly, with the corrected answer.
//!
//! A negative also holds the wrong answer (`rejected`) and why it was wrong
//! (`lesson`), quoted in its *user* turn; the assistant turn is only the
//! corrected answer. So it is safe to inject as a prior turn: the model never
//! sees itself saying the wrong thing, nor narrating its own drafts.
//!
//! [`FewShotLibrary::select`] picks examples for a request: the same ones
//! throughout a session (the model's behaviour does not shift mid-way),
//! different ones across sessions (no single example dominates traffic).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const BUILTIN: &str = include_str!("../data/few_shots.toml");

/// Longest accepted `user`, `assistant`, `rejected` or `lesson` text, in
/// bytes: every example selected is sent with every request of its intent,
/// so a runaway text costs tokens on each call.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// One example exchange, ready to place before the real conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FewShot {
    /// The example's user turn.
    pub user: String,
    /// The example's assistant turn.
    pub assistant: String,
}

/// What an example teaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    /// A typical, intent-aligned exchange.
    Aligned,
    /// A hard case: misspelling, missing data, spoilers, pressure to guess.
    EdgeCase,
    /// One kind of request among several, named by its sub-category.
    Diverse,
    /// A corrected wrong answer.
    Negative,
}

impl Tag {
    const ALL: [Tag; 4] = [Tag::Aligned, Tag::EdgeCase, Tag::Diverse, Tag::Negative];

    /// The tag's spelling in data and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Aligned => "aligned",
            Tag::EdgeCase => "edge_case",
            Tag::Diverse => "diverse",
            Tag::Negative => "negative",
        }
    }

    fn parse(s: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// How [`FewShotLibrary::select`] chooses examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Typical examples first.
    #[default]
    Aligned,
    /// Edge cases first, one per kind of edge case before any second one.
    EdgeCases,
    /// Diverse examples first, one per sub-category before any second one.
    Diverse,
    /// Aligned examples plus at least one negative once two or more are
    /// asked for (about one in three), negatives last.
    WithNegatives,
}

/// An example as written in data or configuration (`[[few_shots]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FewShotEntry {
    /// The intent the example belongs to.
    pub intent: String,
    /// The user's message (with any retrieved context the app would add).
    pub user: String,
    /// The correct answer.
    pub assistant: String,
    /// `aligned`, `edge_case`, `diverse`, `negative`; at least one.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The kind of request; required with `diverse`, optional with
    /// `edge_case` (it groups edge cases for coverage).
    pub sub_category: Option<String>,
    /// The wrong answer a negative example corrects.
    pub rejected: Option<String>,
    /// Why the rejected answer was wrong.
    pub lesson: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FewShotFile {
    few_shots: Vec<FewShotEntry>,
}

/// A validated example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// What it teaches.
    pub tags: Vec<Tag>,
    /// Its kind of request, if named.
    pub sub_category: Option<String>,
    /// The turns to inject (a negative's lesson already in the user turn).
    pub shot: FewShot,
    /// Digest of the turns: the example's identity for ordering, so adding
    /// examples does not reshuffle a session's existing choices.
    id: [u8; 32],
}

impl Example {
    /// True when the example carries `tag`.
    pub fn has(&self, tag: Tag) -> bool {
        self.tags.contains(&tag)
    }
}

/// Examples by intent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FewShotLibrary {
    by_intent: BTreeMap<String, Vec<Example>>,
}

impl FewShotLibrary {
    /// The library compiled into the binary; empty (and logged) in the
    /// unexpected case that the embedded file fails its checks.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN).unwrap_or_else(|errors| {
            tracing::error!(?errors, "built-in few-shot library is invalid");
            Self::default()
        })
    }

    /// Reads a library from TOML text holding `[[few_shots]]` entries.
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let file: FewShotFile =
            toml::from_str(text).map_err(|e| vec![format!("few_shots: {}", e.message().trim())])?;
        let mut library = Self::default();
        library.add(&file.few_shots)?;
        Ok(library)
    }

    /// The built-in library plus `extra` (the configuration's
    /// `[[few_shots]]`). Errors read `few_shots[INDEX].FIELD: message`.
    pub fn with_extra(extra: &[FewShotEntry]) -> Result<Self, Vec<String>> {
        let mut library = Self::builtin();
        library.add(extra)?;
        Ok(library)
    }

    /// Validates every entry, then adds them all or none.
    fn add(&mut self, entries: &[FewShotEntry]) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let mut staged: Vec<(String, Example)> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            match build(entry) {
                Ok(example) => {
                    let known = self.examples(&entry.intent).iter();
                    let mut known = known.chain(
                        staged
                            .iter()
                            .filter(|(n, _)| *n == entry.intent)
                            .map(|(_, e)| e),
                    );
                    if known.any(|e| e.id == example.id) {
                        errors.push(format!(
                            "few_shots[{i}]: duplicate of another {} example",
                            entry.intent
                        ));
                    } else {
                        staged.push((entry.intent.clone(), example));
                    }
                }
                Err(e) => errors.extend(e.into_iter().map(|m| format!("few_shots[{i}].{m}"))),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        for (intent, example) in staged {
            self.by_intent.entry(intent).or_default().push(example);
        }
        Ok(())
    }

    /// The intents that have examples, sorted.
    pub fn intents(&self) -> impl Iterator<Item = &str> {
        self.by_intent.keys().map(String::as_str)
    }

    /// Every example of `intent`, in load order.
    pub fn examples(&self, intent: &str) -> &[Example] {
        self.by_intent.get(intent).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Picks up to `count` examples of `intent` by `strategy`, in the order
    /// to inject them. The same `session_key` always gets the same examples;
    /// an unknown intent or a count of 0 gets none.
    pub fn select(
        &self,
        intent: &str,
        strategy: Strategy,
        count: usize,
        session_key: &str,
    ) -> Vec<FewShot> {
        let examples = self.examples(intent);
        if count == 0 || examples.is_empty() {
            return Vec::new();
        }
        let seed = first_u64(&digest(&[session_key.as_bytes(), intent.as_bytes()]));
        let mut ranked: Vec<&Example> = examples.iter().collect();
        ranked.sort_by_key(|e| mix(seed ^ first_u64(&e.id)));
        let ordered = match strategy {
            Strategy::Aligned => by_tier(ranked, Tag::Aligned, false),
            Strategy::EdgeCases => by_tier(ranked, Tag::EdgeCase, true),
            Strategy::Diverse => by_tier(ranked, Tag::Diverse, true),
            Strategy::WithNegatives => with_negatives(ranked, count),
        };
        ordered
            .into_iter()
            .take(count)
            .map(|e| e.shot.clone())
            .collect()
    }
}

/// Orders examples by how well they suit a strategy whose preferred tag is
/// `first`, keeping the session's order within a tier. Negatives come last
/// except under `with_negatives`: a corrected answer is a lesson, not a
/// typical exchange. With `cover`, the preferred tier is interleaved so
/// each sub-category appears once before any appears twice.
fn by_tier(mut ranked: Vec<&Example>, first: Tag, cover: bool) -> Vec<&Example> {
    let tier =
        |e: &Example| match [Tag::Negative, first, Tag::Aligned, Tag::Diverse].map(|t| e.has(t)) {
            [true, ..] => 4,
            [_, true, ..] => 0,
            [_, _, true, _] => 1,
            [_, _, _, true] => 2,
            _ => 3,
        };
    ranked.sort_by_key(|e| tier(e));
    if cover {
        let preferred = ranked.iter().take_while(|e| tier(e) == 0).count();
        let head = round_robin(&ranked[..preferred]);
        ranked.splice(..preferred, head);
    }
    ranked
}

/// The first example of each sub-category (groups in order of their first
/// member), then the second of each, and so on.
fn round_robin<'a>(examples: &[&'a Example]) -> Vec<&'a Example> {
    let mut groups: Vec<(Option<&str>, Vec<&'a Example>)> = Vec::new();
    for e in examples {
        let key = e.sub_category.as_deref();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(e),
            None => groups.push((key, vec![e])),
        }
    }
    let deepest = groups.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    (0..deepest)
        .flat_map(|round| {
            groups
                .iter()
                .filter_map(move |(_, m)| m.get(round).copied())
        })
        .collect()
}

/// Aligned examples (then others) followed by negatives: one in three of
/// `count`, at least one from two examples up, as many as exist.
fn with_negatives(ranked: Vec<&Example>, count: usize) -> Vec<&Example> {
    let (negatives, others): (Vec<&Example>, Vec<&Example>) = by_tier(ranked, Tag::Aligned, false)
        .into_iter()
        .partition(|e| e.has(Tag::Negative));
    let wanted = if count >= 2 {
        (count / 3).max(1).min(negatives.len())
    } else {
        0
    };
    let mut chosen: Vec<&Example> = others.into_iter().take(count - wanted).collect();
    let room = count - chosen.len();
    chosen.extend(negatives.into_iter().take(room));
    chosen
}

/// SHA-256 over `parts`, each followed by a 0 byte so that moving text
/// from one part to the next changes the digest.
fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
        hasher.update([0]);
    }
    hasher.finalize().into()
}

fn first_u64(bytes: &[u8; 32]) -> u64 {
    let mut head = [0; 8];
    head.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(head)
}

/// SplitMix64's finaliser: turns the session seed and an example's id into
/// a well-spread rank, much cheaper than a hash per example.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Checks an entry and renders its turns; errors are `FIELD: message`.
fn build(entry: &FewShotEntry) -> Result<Example, Vec<String>> {
    let mut errors = Vec::new();
    if entry.intent.is_empty()
        || !entry
            .intent
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        errors.push("intent: must be lowercase letters, digits and underscores".to_string());
    }
    let texts = [
        ("user", Some(&entry.user)),
        ("assistant", Some(&entry.assistant)),
        ("rejected", entry.rejected.as_ref()),
        ("lesson", entry.lesson.as_ref()),
        ("sub_category", entry.sub_category.as_ref()),
    ];
    for (field, text) in texts {
        match text {
            Some(t) if t.trim().is_empty() => errors.push(format!("{field}: text is empty")),
            Some(t) if t.len() > MAX_TEXT_BYTES => {
                errors.push(format!("{field}: longer than {MAX_TEXT_BYTES} bytes"))
            }
            _ => {}
        }
    }
    let mut tags = Vec::new();
    for name in &entry.tags {
        match Tag::parse(name) {
            Some(tag) if !tags.contains(&tag) => tags.push(tag),
            Some(_) => {}
            None => errors.push(format!(
                "tags: unknown tag {name:?} (expected aligned, edge_case, diverse or negative)"
            )),
        }
    }
    if entry.tags.is_empty() {
        errors.push("tags: at least one tag is required".to_string());
    }
    check_tag_fields(entry, &tags, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let shot = render(entry);
    let id = digest(&[shot.user.as_bytes(), shot.assistant.as_bytes()]);
    Ok(Example {
        tags,
        sub_category: entry.sub_category.clone(),
        shot,
        id,
    })
}

/// The fields that go with particular tags.
fn check_tag_fields(entry: &FewShotEntry, tags: &[Tag], errors: &mut Vec<String>) {
    let negative = tags.contains(&Tag::Negative);
    if tags.contains(&Tag::Diverse) && entry.sub_category.is_none() {
        errors.push("sub_category: required with the diverse tag".to_string());
    }
    if entry.sub_category.is_some()
        && !tags.contains(&Tag::Diverse)
        && !tags.contains(&Tag::EdgeCase)
    {
        errors.push("sub_category: only used with the diverse or edge_case tag".to_string());
    }
    for (field, value) in [("rejected", &entry.rejected), ("lesson", &entry.lesson)] {
        match (negative, value) {
            (true, None) => errors.push(format!("{field}: required with the negative tag")),
            (false, Some(_)) => errors.push(format!("{field}: only used with the negative tag")),
            _ => {}
        }
    }
}

/// The turns to inject. A negative's wrong answer and lesson go in the user
/// turn, quoted, so the assistant turn is purely the corrected answer.
fn render(entry: &FewShotEntry) -> FewShot {
    let user = match (&entry.rejected, &entry.lesson) {
        (Some(rejected), Some(lesson)) => format!(
            "{}\n\n(Reviewer note: a previous reply to this message was \"{}\". It was wrong: {} The reply below is the corrected one.)",
            entry.user.trim_end(),
            rejected.trim(),
            lesson.trim()
        ),
        _ => entry.user.clone(),
    };
    FewShot {
        user,
        assistant: entry.assistant.clone(),
    }
}
