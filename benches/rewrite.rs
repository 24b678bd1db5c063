//! Cost of rewriting a request body, beside SHA-256 of the same body.
//!
//! The proxy hashes every body it signs, so SHA-256 is the floor a rewrite
//! is measured against: the target is `rewrite + sha256(result)` within 2x
//! of `sha256(body)` for a 64 KB Claude body. Bodies are multi-turn
//! conversations of English prose (newlines, quotes, a non-ASCII character)
//! with a cached system block and a tool, as a chat application sends them;
//! the plan sets three parameters, prepends a system prompt and injects two
//! examples, so every part of the rewriter runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bedrock_tuner::rewrite::{
    Api, FewShot, InferenceParams, ModelLimits, PromptMode, RewritePlan, rewrite,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PARAGRAPH: &str = "The quarterly report lists revenue by region. \"Europe\" grew fastest, while the café chain in Lisbon \
opened three stores.\nSummarise the figures, keep the totals exact, and flag any region whose margin fell below 12 percent.\n";

/// Messages in alternating roles until the body reaches `size` bytes.
fn conversation(size: usize, converse: bool) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut total = 0;
    while total < size {
        let text = format!("Turn {}. {}", messages.len(), PARAGRAPH.repeat(3));
        total += text.len() + 40;
        let role = if messages.len() % 2 == 0 {
            "user"
        } else {
            "assistant"
        };
        let content = if converse {
            json!([{"text": text}])
        } else {
            json!([{"type": "text", "text": text}])
        };
        messages.push(json!({"role": role, "content": content}));
    }
    if messages.len() % 2 == 0 {
        messages.push(json!({"role": "user", "content": [{"type": "text", "text": "Go on."}]}));
    }
    messages
}

fn claude_body(size: usize) -> Vec<u8> {
    let body = json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are a financial analyst.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "lookup", "description": "Look up a figure", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
        "messages": conversation(size, false),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn converse_body(size: usize) -> Vec<u8> {
    let body = json!({
        "messages": conversation(size, true),
        "system": [{"text": "You are a financial analyst."}, {"cachePoint": {"type": "default"}}],
        "inferenceConfig": {"maxTokens": 1024},
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn plan() -> RewritePlan {
    RewritePlan {
        params: InferenceParams {
            temperature: Some(0.2),
            top_p: Some(0.9),
            max_tokens: Some(2048),
            ..InferenceParams::default()
        },
        system_prompt: Some("Answer with exact figures only.".into()),
        prompt_mode: PromptMode::Prepend,
        few_shots: vec![
            FewShot {
                user: "Revenue in Q1?".into(),
                assistant: "4.2 million euro.".into(),
            },
            FewShot {
                user: "Margin in Q1?".into(),
                assistant: "14 percent.".into(),
            },
        ],
        app_values_win: false,
    }
}

/// The median over rounds of `time(rewrite + sha256) / time(sha256)`, each
/// round timing a short batch of one right beside a batch of the other. On a
/// shared machine the load drifts while criterion measures one function
/// after another; pairing batches keeps both sides of each ratio under the
/// same load, alternating which goes first cancels the bias of the process
/// using up its time slice, and the median drops rounds that were preempted.
fn interleaved_ratio(
    model: &str,
    api: Api,
    body: &[u8],
    plan: &RewritePlan,
    limits: &ModelLimits,
) -> f64 {
    let batch = (512 * 1024 / body.len()).clamp(1, 400);
    let floor = || {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(Sha256::digest(black_box(body)));
        }
        start.elapsed().as_secs_f64()
    };
    let rewritten = || {
        let start = Instant::now();
        for _ in 0..batch {
            let _ = black_box(
                rewrite(model, api, black_box(body), plan, limits).map(|r| Sha256::digest(&r.body)),
            );
        }
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let (f, r) = if round % 2 == 0 {
                let f = floor();
                (f, rewritten())
            } else {
                let r = rewritten();
                (floor(), r)
            };
            r / f.max(f64::MIN_POSITIVE)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

const ROUNDS: usize = 201;

fn bench_body(c: &mut Criterion, name: &str, model: &str, api: Api, body: &[u8]) {
    let limits = match ModelLimits::builtin() {
        Ok(l) => l,
        Err(e) => panic!("built-in limits: {e}"),
    };
    let plan = plan();
    let ratio = interleaved_ratio(model, api, body, &plan, &limits);
    println!(
        "rewrite/{name}: (rewrite + sha256) / sha256 = {ratio:.2} (median of {ROUNDS} paired rounds, {} bytes)",
        body.len()
    );
    let mut group = c.benchmark_group(format!("rewrite/{name}"));
    group.throughput(Throughput::Bytes(body.len() as u64));
    if body.len() > 256 * 1024 {
        group.sample_size(30);
    }
    group.bench_function(BenchmarkId::new("sha256", body.len()), |b| {
        b.iter(|| Sha256::digest(black_box(body)))
    });
    group.bench_function(BenchmarkId::new("rewrite", body.len()), |b| {
        b.iter(|| rewrite(model, api, black_box(body), &plan, &limits).map(|r| r.body.len()))
    });
    group.bench_function(BenchmarkId::new("rewrite+sha256", body.len()), |b| {
        b.iter(|| {
            rewrite(model, api, black_box(body), &plan, &limits).map(|r| Sha256::digest(&r.body))
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let claude = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    bench_body(c, "claude_1k", claude, Api::InvokeModel, &claude_body(1024));
    bench_body(
        c,
        "claude_64k",
        claude,
        Api::InvokeModel,
        &claude_body(64 * 1024),
    );
    bench_body(
        c,
        "claude_1m",
        claude,
        Api::InvokeModel,
        &claude_body(1024 * 1024),
    );
    bench_body(
        c,
        "converse_64k",
        "us.amazon.nova-pro-v1:0",
        Api::Converse,
        &converse_body(64 * 1024),
    );
}

criterion_group! {
    name = rewrite_benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(rewrite_benches);
