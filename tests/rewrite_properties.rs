//! Properties of the request rewriter over generated bodies and plans:
//! - nothing the application sent is lost: every top-level field the
//!   rewriter does not own keeps its exact bytes, and the application's
//!   conversation survives, in order, after any injected examples;
//! - the result is JSON whose keys are all allowed by the family's schema
//!   (allow-lists written here from the AWS request schemas, independent of
//!   the rewriter's own tables);
//! - rewriting the result again with the same plan changes nothing;
//! - no input makes it panic.

use std::collections::BTreeMap;

use bedrock_tuner::rewrite::{
    Api, FewShot, InferenceParams, ModelLimits, PromptMode, RewritePlan, rewrite,
};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    ClaudeInvoke,
    NovaInvoke,
    Titan,
    Llama,
    Mistral,
    Cohere,
    Jamba,
    ConverseClaude,
    ConverseNova,
    ConverseOther,
}

const TARGETS: [Target; 10] = [
    Target::ClaudeInvoke,
    Target::NovaInvoke,
    Target::Titan,
    Target::Llama,
    Target::Mistral,
    Target::Cohere,
    Target::Jamba,
    Target::ConverseClaude,
    Target::ConverseNova,
    Target::ConverseOther,
];

const CONVERSE_KEYS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
];

impl Target {
    fn model_id(self) -> &'static str {
        match self {
            Target::ClaudeInvoke => "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            Target::NovaInvoke => "amazon.nova-lite-v1:0",
            Target::Titan => "amazon.titan-text-premier-v1:0",
            Target::Llama => "meta.llama3-70b-instruct-v1:0",
            Target::Mistral => "mistral.mixtral-8x7b-instruct-v0:1",
            Target::Cohere => "cohere.command-r-v1:0",
            Target::Jamba => "ai21.jamba-1-5-mini-v1:0",
            Target::ConverseClaude => "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            Target::ConverseNova => "us.amazon.nova-pro-v1:0",
            Target::ConverseOther => "openai.gpt-oss-20b-1:0",
        }
    }

    fn api(self) -> Api {
        match self {
            Target::ConverseClaude | Target::ConverseNova | Target::ConverseOther => Api::Converse,
            _ => Api::InvokeModel,
        }
    }

    /// Top-level keys the request schema allows.
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Target::ClaudeInvoke => &[
                "anthropic_version",
                "anthropic_beta",
                "max_tokens",
                "system",
                "messages",
                "temperature",
                "top_p",
                "top_k",
                "tools",
                "tool_choice",
                "stop_sequences",
                "thinking",
            ],
            Target::NovaInvoke => &[
                "schemaVersion",
                "system",
                "messages",
                "inferenceConfig",
                "toolConfig",
            ],
            Target::Titan => &["inputText", "textGenerationConfig"],
            Target::Llama => &["prompt", "temperature", "top_p", "max_gen_len"],
            Target::Mistral => &[
                "prompt",
                "max_tokens",
                "stop",
                "temperature",
                "top_p",
                "top_k",
            ],
            Target::Cohere => &[
                "message",
                "chat_history",
                "documents",
                "search_queries_only",
                "preamble",
                "max_tokens",
                "temperature",
                "p",
                "k",
                "prompt_truncation",
                "frequency_penalty",
                "presence_penalty",
                "seed",
                "return_prompt",
                "tools",
                "tool_results",
                "stop_sequences",
                "raw_prompting",
            ],
            Target::Jamba => &[
                "messages",
                "n",
                "temperature",
                "top_p",
                "max_tokens",
                "stop",
            ],
            Target::ConverseClaude | Target::ConverseNova | Target::ConverseOther => CONVERSE_KEYS,
        }
    }

    /// Keys allowed inside the nested objects the rewriter may write.
    fn nested_allowed(self, key: &str) -> Option<&'static [&'static str]> {
        match (self, key) {
            (Target::NovaInvoke, "inferenceConfig") => Some(&[
                "maxTokens",
                "max_new_tokens",
                "temperature",
                "topP",
                "top_p",
                "topK",
                "top_k",
                "stopSequences",
            ]),
            (Target::Titan, "textGenerationConfig") => {
                Some(&["temperature", "topP", "maxTokenCount", "stopSequences"])
            }
            (
                Target::ConverseClaude | Target::ConverseNova | Target::ConverseOther,
                "inferenceConfig",
            ) => Some(&["maxTokens", "temperature", "topP", "stopSequences"]),
            (Target::ConverseClaude, "additionalModelRequestFields") => {
                Some(&["top_k", "thinking", "anthropic_beta"])
            }
            (Target::ConverseNova, "additionalModelRequestFields") => Some(&["inferenceConfig"]),
            (Target::ConverseOther, "additionalModelRequestFields") => Some(&["reasoning_effort"]),
            _ => None,
        }
    }

    /// Top-level keys the rewriter may change.
    fn owned(self) -> &'static [&'static str] {
        match self {
            Target::ClaudeInvoke => &[
                "temperature",
                "top_p",
                "top_k",
                "max_tokens",
                "stop_sequences",
                "system",
                "messages",
            ],
            Target::NovaInvoke => &["inferenceConfig", "system", "messages"],
            Target::Titan => &["textGenerationConfig", "inputText"],
            Target::Llama => &["temperature", "top_p", "max_gen_len", "prompt"],
            Target::Mistral => &[
                "temperature",
                "top_p",
                "top_k",
                "max_tokens",
                "stop",
                "prompt",
            ],
            Target::Cohere => &[
                "temperature",
                "p",
                "k",
                "max_tokens",
                "stop_sequences",
                "frequency_penalty",
                "preamble",
                "chat_history",
            ],
            Target::Jamba => &["temperature", "top_p", "max_tokens", "stop", "messages"],
            Target::ConverseClaude | Target::ConverseNova | Target::ConverseOther => &[
                "inferenceConfig",
                "additionalModelRequestFields",
                "system",
                "messages",
            ],
        }
    }
}

/// A generated request: the body, and for prompt-string families the text
/// the rewritten prompt must still end with.
#[derive(Debug, Clone)]
struct Sample {
    target: Target,
    body: Value,
    prompt_suffix: Option<String>,
}

fn text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        8 => prop::char::range('a', 'z'),
        2 => Just(' '),
        1 => prop::sample::select(vec!['"', '\\', '\n', '\t', '\u{1}', 'é', '€', '😀', '<', '|', '[']),
    ];
    prop::collection::vec(chars, 1..24)
        .prop_map(|v| format!("w{}", v.into_iter().collect::<String>()))
}

fn maybe<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop::option::weighted(0.4, s).boxed()
}

/// Alternating turns, opening with a user turn unless `assistant_first`.
fn turns(contents: Vec<Value>, assistant_first: bool, user: &str, assistant: &str) -> Vec<Value> {
    let role = |i: usize| {
        if i.is_multiple_of(2) != assistant_first {
            user
        } else {
            assistant
        }
    };
    contents
        .into_iter()
        .enumerate()
        .map(|(i, c)| json!({"role": role(i), "content": c}))
        .collect()
}

fn insert_some(body: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(v), Some(map)) = (value, body.as_object_mut()) {
        map.insert(key.to_string(), v);
    }
}

fn claude_body() -> BoxedStrategy<Sample> {
    let content = prop_oneof![
        text().prop_map(Value::from),
        (text(), any::<bool>()).prop_map(|(t, cache)| if cache {
            json!([{"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}])
        } else {
            json!([{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}, {"type": "text", "text": t}])
        }),
    ];
    let system = prop_oneof![
        text().prop_map(Value::from),
        text().prop_map(
            |t| json!([{"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}])
        )
    ];
    (prop::collection::vec(content, 0..4), prop::bool::weighted(0.2), maybe(system), maybe(0.0..1.0f64), maybe(1u32..9000), any::<bool>(), maybe(1u32..4000))
        .prop_map(|(contents, assistant_first, system, top_p, max_tokens, tools, thinking)| {
            let mut body = json!({"anthropic_version": "bedrock-2023-05-31", "messages": turns(contents, assistant_first, "user", "assistant")});
            insert_some(&mut body, "max_tokens", max_tokens.map(Value::from));
            insert_some(&mut body, "system", system);
            insert_some(&mut body, "top_p", top_p.map(Value::from));
            insert_some(&mut body, "tools", tools.then(|| json!([{"name": "t", "description": "d", "input_schema": {"type": "object"}}])));
            insert_some(&mut body, "thinking", thinking.map(|b| json!({"type": "enabled", "budget_tokens": b})));
            Sample { target: Target::ClaudeInvoke, body, prompt_suffix: None }
        })
        .boxed()
}

fn block_chat_body(target: Target) -> BoxedStrategy<Sample> {
    let config = prop_oneof![
        Just(None),
        (1u32..6000).prop_map(|m| Some(json!({"maxTokens": m}))),
        (1u32..6000, 0.0..1.0f64)
            .prop_map(|(m, t)| Some(json!({"max_new_tokens": m, "temperature": t}))),
    ];
    let system = prop_oneof![
        Just(None),
        text().prop_map(|t| Some(json!([{"text": t}]))),
        text().prop_map(|t| Some(json!([{"text": t}, {"cachePoint": {"type": "default"}}, {"guardContent": {"text": {"text": "g"}}}]))),
    ];
    let extra = prop_oneof![
        Just(None),
        Just(Some(
            json!({"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}]})
        ))
    ];
    (
        prop::collection::vec(text(), 0..4),
        prop::bool::weighted(0.2),
        config,
        system,
        extra,
    )
        .prop_map(move |(texts, assistant_first, config, system, tools)| {
            let contents = texts.into_iter().map(|t| json!([{"text": t}])).collect();
            let mut body =
                json!({"messages": turns(contents, assistant_first, "user", "assistant")});
            let converse = target.api() == Api::Converse;
            // Converse spells maxTokens only; Nova InvokeModel takes either.
            let config = config.filter(|c| !converse || c.get("maxTokens").is_some());
            insert_some(&mut body, "inferenceConfig", config);
            insert_some(&mut body, "system", system);
            insert_some(&mut body, "toolConfig", tools);
            if converse {
                insert_some(
                    &mut body,
                    "requestMetadata",
                    Some(json!({"team": "search"})),
                );
            } else {
                insert_some(&mut body, "schemaVersion", Some(json!("messages-v1")));
            }
            Sample {
                target,
                body,
                prompt_suffix: None,
            }
        })
        .boxed()
}

fn prompt_body(target: Target) -> BoxedStrategy<Sample> {
    (
        text(),
        prop::sample::select(vec![0u8, 1, 2]),
        any::<bool>(),
        maybe(0.0..1.0f64),
    )
        .prop_map(move |(question, style, with_system, temperature)| {
            let header = |r: &str| format!("<|start_header_id|>{r}<|end_header_id|>\n\n");
            let (head, tail) = match style {
                0 if target == Target::Llama => {
                    let system = if with_system {
                        format!("{}Be brief.<|eot_id|>", header("system"))
                    } else {
                        String::new()
                    };
                    (
                        format!("<|begin_of_text|>{system}{}", header("user")),
                        format!("<|eot_id|>{}", header("assistant")),
                    )
                }
                1 if target != Target::Titan => ("<s>[INST] ".to_string(), " [/INST]".to_string()),
                _ => ("User: ".to_string(), "\nBot:".to_string()),
            };
            let prompt = format!("{head}{question}{tail}");
            let key = if target == Target::Titan {
                "inputText"
            } else {
                "prompt"
            };
            let mut body = json!({ key: prompt });
            if target == Target::Titan {
                insert_some(
                    &mut body,
                    "textGenerationConfig",
                    temperature.map(|t| json!({"temperature": t})),
                );
            } else {
                insert_some(&mut body, "temperature", temperature.map(Value::from));
            }
            Sample {
                target,
                body,
                prompt_suffix: Some(format!("{question}{tail}")),
            }
        })
        .boxed()
}

fn cohere_body() -> BoxedStrategy<Sample> {
    (text(), prop::collection::vec(text(), 0..4), maybe(text()), maybe(0.0..1.0f64))
        .prop_map(|(message, history, preamble, k)| {
            let history: Vec<Value> = history.into_iter().enumerate().map(|(i, m)| json!({"role": if i % 2 == 0 { "USER" } else { "CHATBOT" }, "message": m})).collect();
            let mut body = json!({"message": message, "documents": [{"title": "doc", "snippet": "s"}]});
            insert_some(&mut body, "chat_history", (!history.is_empty()).then(|| Value::from(history)));
            insert_some(&mut body, "preamble", preamble.map(Value::from));
            insert_some(&mut body, "presence_penalty", k.map(Value::from));
            Sample { target: Target::Cohere, body, prompt_suffix: None }
        })
        .boxed()
}

fn jamba_body() -> BoxedStrategy<Sample> {
    (
        prop::collection::vec(text(), 1..4),
        maybe(text()),
        maybe(1u32..4000),
    )
        .prop_map(|(texts, system, max_tokens)| {
            let mut messages: Vec<Value> = system
                .into_iter()
                .map(|s| json!({"role": "system", "content": s}))
                .collect();
            messages.extend(turns(
                texts.into_iter().map(Value::from).collect(),
                false,
                "user",
                "assistant",
            ));
            let mut body = json!({"messages": messages, "n": 1});
            insert_some(&mut body, "max_tokens", max_tokens.map(Value::from));
            Sample {
                target: Target::Jamba,
                body,
                prompt_suffix: None,
            }
        })
        .boxed()
}

fn sample() -> impl Strategy<Value = Sample> {
    prop::sample::select(TARGETS.to_vec()).prop_flat_map(|t| match t {
        Target::ClaudeInvoke => claude_body(),
        Target::NovaInvoke
        | Target::ConverseClaude
        | Target::ConverseNova
        | Target::ConverseOther => block_chat_body(t),
        Target::Titan | Target::Llama | Target::Mistral => prompt_body(t),
        Target::Cohere => cohere_body(),
        Target::Jamba => jamba_body(),
    })
}

fn plan() -> impl Strategy<Value = RewritePlan> {
    let params = (
        maybe(-0.5..2.5f64),
        maybe(0u32..700),
        maybe(-0.1..1.1f64),
        maybe(0u32..100_000),
        maybe(prop::collection::vec(text(), 0..3)),
        maybe(0.0..1.0f64),
    )
        .prop_map(
            |(temperature, top_k, top_p, max_tokens, stop_sequences, frequency_penalty)| {
                InferenceParams {
                    temperature,
                    top_k,
                    top_p,
                    max_tokens,
                    stop_sequences,
                    frequency_penalty,
                }
            },
        );
    let mode = prop::sample::select(vec![
        PromptMode::Prepend,
        PromptMode::Replace,
        PromptMode::Append,
        PromptMode::Keep,
    ]);
    let shots = prop::collection::vec(
        (text(), text()).prop_map(|(user, assistant)| FewShot { user, assistant }),
        0..3,
    );
    (params, maybe(text()), mode, shots, any::<bool>()).prop_map(
        |(params, system_prompt, prompt_mode, few_shots, app_values_win)| RewritePlan {
            params,
            system_prompt,
            prompt_mode,
            few_shots,
            app_values_win,
        },
    )
}

fn raw_top_level(body: &[u8]) -> BTreeMap<String, Box<RawValue>> {
    serde_json::from_slice(body).expect("top level parses")
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn ends_with(long: &[Value], tail: &[Value]) -> bool {
    long.len() >= tail.len() && long[long.len() - tail.len()..] == *tail
}

/// The application's conversation is still there, in order, at the end.
fn conversation_kept(s: &Sample, before: &Value, after: &Value) -> Result<(), TestCaseError> {
    let non_system = |v: &Value| {
        list(v, "messages")
            .into_iter()
            .filter(|m| m["role"] != "system")
            .collect::<Vec<_>>()
    };
    match s.target {
        Target::Jamba => prop_assert!(ends_with(&non_system(after), &non_system(before))),
        Target::Cohere => prop_assert!(ends_with(
            &list(after, "chat_history"),
            &list(before, "chat_history")
        )),
        Target::Titan | Target::Llama | Target::Mistral => {
            let key = if s.target == Target::Titan {
                "inputText"
            } else {
                "prompt"
            };
            let prompt = after[key].as_str().unwrap_or_default();
            prop_assert!(
                prompt.ends_with(s.prompt_suffix.as_deref().unwrap_or_default()),
                "prompt lost the app's text: {prompt:?}"
            );
        }
        _ => prop_assert!(ends_with(
            &list(after, "messages"),
            &list(before, "messages")
        )),
    }
    Ok(())
}

fn keys_allowed(t: Target, after: &Value) -> Result<(), TestCaseError> {
    let object = after
        .as_object()
        .ok_or_else(|| TestCaseError::fail("not an object"))?;
    for (key, value) in object {
        prop_assert!(
            t.allowed().contains(&key.as_str()),
            "{t:?}: key {key} not allowed"
        );
        if let (Some(allowed), Some(inner)) = (t.nested_allowed(key), value.as_object()) {
            for k in inner.keys() {
                prop_assert!(
                    allowed.contains(&k.as_str()),
                    "{t:?}: key {key}.{k} not allowed"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn rewrite_keeps_data_writes_allowed_keys_and_is_idempotent(s in sample(), plan in plan(), pretty in any::<bool>()) {
        let limits = ModelLimits::builtin().expect("built-in limits");
        let before_bytes = if pretty { serde_json::to_vec_pretty(&s.body) } else { serde_json::to_vec(&s.body) }.expect("serialises");
        let out = rewrite(s.target.model_id(), s.target.api(), &before_bytes, &plan, &limits).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after: Value = serde_json::from_slice(&out.body).map_err(|e| TestCaseError::fail(format!("output is not JSON: {e}")))?;
        keys_allowed(s.target, &after)?;
        let (raw_before, raw_after) = (raw_top_level(&before_bytes), raw_top_level(&out.body));
        for (key, raw) in &raw_before {
            if !s.target.owned().contains(&key.as_str()) {
                prop_assert_eq!(raw_after.get(key).map(|r| r.get()), Some(raw.get()), "field {} changed or lost", key);
            }
        }
        conversation_kept(&s, &s.body, &after)?;
        let again = rewrite(s.target.model_id(), s.target.api(), &out.body, &plan, &limits).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(String::from_utf8_lossy(&again.body), String::from_utf8_lossy(&out.body));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), t in prop::sample::select(TARGETS.to_vec())) {
        let limits = ModelLimits::builtin().expect("built-in limits");
        let plan = RewritePlan { system_prompt: Some("s".into()), few_shots: vec![FewShot { user: "u".into(), assistant: "a".into() }], ..RewritePlan::default() };
        let _ = rewrite(t.model_id(), t.api(), &bytes, &plan, &limits);
    }

    #[test]
    fn json_with_wrong_types_never_panics(v in json_value(), t in prop::sample::select(TARGETS.to_vec()), plan in plan()) {
        let limits = ModelLimits::builtin().expect("built-in limits");
        let body = serde_json::to_vec(&v).expect("serialises");
        if let Ok(out) = rewrite(t.model_id(), t.api(), &body, &plan, &limits) {
            prop_assert!(serde_json::from_slice::<Value>(&out.body).is_ok());
        }
    }
}

/// Objects whose owned keys hold values of any type.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-5i64..5).prop_map(Value::from),
        text().prop_map(Value::from)
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "role".to_string(),
                    "content".into(),
                    "text".into(),
                    "type".into()
                ]),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let keys = vec![
        "messages",
        "system",
        "inferenceConfig",
        "additionalModelRequestFields",
        "prompt",
        "inputText",
        "preamble",
        "chat_history",
        "temperature",
        "thinking",
        "textGenerationConfig",
    ];
    prop::collection::btree_map(
        prop::sample::select(keys).prop_map(String::from),
        value,
        0..5,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}
