//! Answer and request text from the body and stream shapes of every
//! family Bedrock serves.

use std::path::PathBuf;

use bedrock_tuner::score::{
    MAX_ANSWER_BYTES, MAX_REQUEST_BYTES, StreamText, answer_text_from_json, request_text_from_json,
};
use serde_json::{Value, json};

#[test]
fn answer_text_of_every_family() {
    let cases = [
        // Claude Messages: text blocks only, not tool calls or thinking.
        json!({"id": "msg_01", "type": "message", "role": "assistant", "content": [
            {"type": "thinking", "thinking": "The user wants...", "signature": "abc"},
            {"type": "text", "text": "Order ORD-1 has shipped."},
            {"type": "tool_use", "id": "toolu_1", "name": "track", "input": {"id": "ORD-1"}}
        ], "stop_reason": "tool_use", "usage": {"input_tokens": 30, "output_tokens": 12}}),
        // Converse (and Nova on InvokeModel): reasoning is skipped.
        json!({"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "thinking"}}},
            {"text": "Order ORD-1 has shipped."}
        ]}}, "stopReason": "end_turn", "usage": {"inputTokens": 30, "outputTokens": 9, "totalTokens": 39}}),
        json!({"inputTextTokenCount": 12, "results": [
            {"tokenCount": 9, "outputText": "Order ORD-1 has shipped.", "completionReason": "FINISH"}
        ]}),
        json!({"generation": "Order ORD-1 has shipped.", "prompt_token_count": 30, "generation_token_count": 9, "stop_reason": "stop"}),
        json!({"outputs": [{"text": "Order ORD-1 has shipped.", "stop_reason": "stop"}]}),
        json!({"response_id": "r1", "text": "Order ORD-1 has shipped.", "generation_id": "g1", "finish_reason": "COMPLETE",
               "chat_history": [{"role": "USER", "message": "where is ORD-1?"}, {"role": "CHATBOT", "message": "Order ORD-1 has shipped."}]}),
        json!({"id": "chat-1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Order ORD-1 has shipped."},
               "finish_reason": "stop"}], "usage": {"prompt_tokens": 30, "completion_tokens": 9}}),
        json!({"completion": "Order ORD-1 has shipped.", "stop_reason": "stop_sequence"}),
    ];
    for body in cases {
        assert_eq!(
            answer_text_from_json(&body),
            "Order ORD-1 has shipped.",
            "{body}"
        );
    }
    let parts = json!({"content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]});
    assert_eq!(answer_text_from_json(&parts), "Part one.\nPart two.");
    assert_eq!(
        answer_text_from_json(&json!({"message": "Too many requests"})),
        ""
    );
    let huge = json!({"generation": "manga ".repeat(20_000)});
    assert_eq!(answer_text_from_json(&huge).len(), MAX_ANSWER_BYTES);
}

fn streamed(events: &[Value]) -> StreamText {
    let mut text = StreamText::new();
    events.iter().for_each(|e| text.push(e));
    text
}

#[test]
fn stream_text_of_claude_invoke_chunks() {
    let text = streamed(&[
        json!({"type": "message_start", "message": {"id": "msg_1", "role": "assistant", "content": [], "usage": {"input_tokens": 30}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Order ORD-1 "}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "has shipped."}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t", "name": "track", "input": {}}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"id\":"}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 30, "outputTokenCount": 9}}),
    ]);
    assert_eq!(text.text(), "Order ORD-1 has shipped.");
    assert!(!text.truncated());
    assert_eq!(text.events(), 11);
}

#[test]
fn stream_text_of_converse_events_bare_or_wrapped() {
    let text = streamed(&[
        json!({"role": "assistant", "p": "abcd"}),
        json!({"contentBlockIndex": 0, "delta": {"text": "Order ORD-1 "}, "p": "ab"}),
        json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "has shipped."}}}),
        json!({"contentBlockIndex": 1, "delta": {"reasoningContent": {"text": "thinking"}}}),
        json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"id\""}}}),
        json!({"contentBlockIndex": 0}),
        json!({"stopReason": "end_turn"}),
        json!({"usage": {"inputTokens": 30, "outputTokens": 9, "totalTokens": 39}, "metrics": {"latencyMs": 412}}),
    ]);
    assert_eq!(text.into_text(), "Order ORD-1 has shipped.");
}

#[test]
fn stream_text_of_other_families() {
    let families = [
        vec![
            json!({"outputText": "Order ORD-1 ", "index": 0, "totalOutputTextTokenCount": 4, "completionReason": null}),
            json!({"outputText": "has shipped.", "index": 0, "totalOutputTextTokenCount": 9, "completionReason": "FINISH"}),
        ],
        vec![
            json!({"generation": "Order ORD-1 ", "prompt_token_count": 30, "generation_token_count": 4, "stop_reason": null}),
            json!({"generation": "has shipped.", "prompt_token_count": null, "generation_token_count": 9, "stop_reason": "stop"}),
        ],
        vec![
            json!({"outputs": [{"text": "Order ORD-1 ", "stop_reason": null}]}),
            json!({"outputs": [{"text": "has shipped.", "stop_reason": "stop"}]}),
        ],
        vec![
            json!({"is_finished": false, "event_type": "stream-start", "generation_id": "g1"}),
            json!({"is_finished": false, "event_type": "text-generation", "text": "Order ORD-1 "}),
            json!({"is_finished": false, "event_type": "text-generation", "text": "has shipped."}),
            json!({"is_finished": true, "event_type": "stream-end", "finish_reason": "COMPLETE",
                   "response": {"text": "Order ORD-1 has shipped."}}),
        ],
        vec![
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "Order ORD-1 "}, "finish_reason": null}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "has shipped."}, "finish_reason": "stop"}]}),
        ],
    ];
    for events in families {
        assert_eq!(
            streamed(&events).text(),
            "Order ORD-1 has shipped.",
            "{events:?}"
        );
    }
}

#[test]
fn stream_text_is_bounded_and_says_so() {
    // 22 bytes a delta: the third is cut at a character boundary.
    let mut text = StreamText::with_limit(50);
    for _ in 0..5 {
        text.push(&json!({"delta": {"text": "漫画のおすすめ "}}));
    }
    assert!(text.truncated());
    assert_eq!(text.text(), "漫画のおすすめ 漫画のおすすめ 漫画");
    let mut full = StreamText::new();
    let chunk = json!({"delta": {"type": "text_delta", "text": "x".repeat(1000)}});
    (0..100).for_each(|_| full.push(&chunk));
    assert_eq!(
        (full.text().len(), full.truncated()),
        (MAX_ANSWER_BYTES, true)
    );
}

#[test]
fn request_text_of_claude_with_tools_and_documents() {
    let body = json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 400,
        "system": [{"type": "text", "text": "You are MangaAssist.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "Where is ORD-48213?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_order", "input": {"id": "ORD-48213"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "status: shipped, tracking 4471-2290-1834"}]},
                {"type": "document", "title": "Shipping policy", "source": {"type": "text", "media_type": "text/plain", "data": "Express: ¥880"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "text", "text": "And the shipping fee?"}
            ]}
        ]
    });
    let text = request_text_from_json(&body);
    for expected in [
        "You are MangaAssist.",
        "Where is ORD-48213?",
        "4471-2290-1834",
        "Shipping policy",
        "Express: ¥880",
        "And the shipping fee?",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    assert!(
        !text.contains("JVBERi0") && !text.contains("iVBORw0"),
        "binary sources are skipped: {text:?}"
    );
    assert!(
        text.find("You are MangaAssist")
            .is_some_and(|s| Some(s) < text.find("And the shipping fee?"))
    );
}

#[test]
fn request_text_of_converse_cohere_and_prompt_families() {
    let converse = json!({
        "system": [{"text": "You are MangaAssist."}, {"cachePoint": {"type": "default"}}],
        "messages": [{"role": "user", "content": [
            {"toolResult": {"toolUseId": "t1", "content": [{"json": {"order_id": "ORD-5", "price": 528, "items": ["Vagabond vol. 1"]}}]}},
            {"guardContent": {"text": {"text": "Search results: Vagabond vol. 1 ¥528"}}},
            {"text": "Is it in stock?"}
        ]}],
        "inferenceConfig": {"maxTokens": 300}
    });
    let text = request_text_from_json(&converse);
    for expected in [
        "You are MangaAssist.",
        "order_id: ORD-5",
        "price: 528",
        "items: Vagabond vol. 1",
        "Search results",
        "Is it in stock?",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    let cohere = json!({
        "preamble": "You are MangaAssist.",
        "message": "Any Urasawa?",
        "chat_history": [{"role": "USER", "message": "hi"}, {"role": "CHATBOT", "message": "Hello!"}],
        "documents": [{"title": "Monster vol. 1", "snippet": "Naoki Urasawa, ¥1,320, in stock"}]
    });
    let text = request_text_from_json(&cohere);
    for expected in [
        "You are MangaAssist.",
        "Any Urasawa?",
        "Hello!",
        "title: Monster vol. 1",
        "¥1,320",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    let llama = json!({"prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\nhi<|eot_id|>", "max_gen_len": 64});
    assert!(request_text_from_json(&llama).contains("hi<|eot_id|>"));
    let titan =
        json!({"inputText": "User: hi\nBot:", "textGenerationConfig": {"maxTokenCount": 64}});
    assert_eq!(request_text_from_json(&titan), "User: hi\nBot:");
}

#[test]
fn request_text_keeps_the_newest_turns_within_its_bound() {
    let turn = |i: usize| json!({"role": if i.is_multiple_of(2) { "user" } else { "assistant" }, "content": format!("turn {i} {}", "x".repeat(10_000))});
    let mut messages: Vec<Value> = (0..60).map(turn).collect();
    messages.push(json!({"role": "user", "content": "newest question"}));
    let text = request_text_from_json(&json!({"system": "system prompt", "messages": messages}));
    assert!(text.len() <= MAX_REQUEST_BYTES);
    assert!(
        text.starts_with("system prompt")
            && text.contains("newest question")
            && text.contains("turn 59 ")
    );
    assert!(
        !text.contains("turn 0 "),
        "the oldest turn is what the bound drops"
    );
}

/// The captured client requests beside BEDROCK.md (`BEDROCK_FIXTURES_DIR`
/// or `../shared/fixtures/requests`).
fn fixtures() -> PathBuf {
    std::env::var_os("BEDROCK_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/requests")
        })
}

#[test]
fn request_text_of_captured_client_requests() {
    let dir = fixtures();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut read = 0;
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let raw = std::fs::read_to_string(&path).expect("fixture is text");
        let body = raw
            .split_once("\r\n\r\n")
            .or_else(|| raw.split_once("\n\n"))
            .map(|(_, b)| b.trim())
            .unwrap_or("");
        let json: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Every capture says "hi", but one whose client sent an empty body.
        let expected = if json.get("messages").is_some() {
            "hi"
        } else {
            ""
        };
        assert_eq!(
            request_text_from_json(&json),
            expected,
            "{}",
            path.display()
        );
        read += 1;
    }
    assert!(read >= 10, "only {read} fixtures in {}", dir.display());
}
