//! `experiments …` and `profiles set|history|rollback` through the real
//! binary, on an embedded SQLite store in a temporary directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use bedrock_tuner::store::{
    Batch, BatchId, Contribution, Kind, MetricKey, RequestSums, SessionDelta, SessionKey, Store,
    StoreConfig, StoreError,
};
use serde_json::{Value, json};

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("sidecar.toml");
        let db = dir.path().join("store.sqlite");
        let text = format!(
            "[store]\nbackend = \"embedded\"\npath = {:?}\n",
            db.display().to_string()
        );
        std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
        Self { dir, config }
    }

    /// Runs the binary; returns (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bedrock-tuner"));
        command.args(args);
        // `analyze --summary` reads no configuration.
        if args.first() != Some(&"analyze") {
            command.arg("--config").arg(&self.config);
        }
        let output = command
            .env("USER", "tester")
            .env_remove("BEDROCK_TUNER_CONFIG")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            output.status.code().unwrap_or(-1),
            text(&output.stdout),
            text(&output.stderr),
        )
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?} failed: {err}");
        out
    }

    /// Runs a command that must fail with exit code 2; returns its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 2, "{args:?} should fail: {out}{err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path.display().to_string()
    }

    /// A two-variant experiment on `intent`, created as a draft.
    fn create(&self, id: &str, intent: &str) {
        let text = format!(
            "id = \"{id}\"\nintent = \"{intent}\"\ncontrol = \"control\"\n\
             [[variants]]\nname = \"control\"\nweight = 0.5\n\
             [[variants]]\nname = \"cooler\"\nweight = 0.5\n\
             [variants.overrides]\ntemperature = 0.05\n"
        );
        let file = self.file(&format!("{id}.toml"), &text);
        self.ok(&["experiments", "create", &file]);
    }

    async fn store(&self) -> Store {
        let config = StoreConfig {
            backend: bedrock_tuner::store::BackendConfig::Embedded {
                path: self.dir.path().join("store.sqlite"),
            },
            ..StoreConfig::default()
        };
        Store::open(&config).await.unwrap_or_else(|e| panic!("{e}"))
    }
}

#[test]
fn an_experiment_goes_from_draft_to_completed_with_its_decision_log() {
    let env = Env::new();
    env.create("temp", "order_status");
    let status =
        |env: &Env| env.json(&["experiments", "show", "temp"])["experiment"]["status"].clone();
    assert_eq!(status(&env), "draft");
    let why = ["--author", "alice", "--reason", "ticket 42"];
    env.ok(&[&["experiments", "start", "temp"][..], &why].concat());
    assert_eq!(status(&env), "running");

    let a = env.json(&["experiments", "assign", "temp", "session-1"]);
    let position = bedrock_tuner::experiment::assign::position("temp", "session-1");
    assert_eq!(a["position"].as_f64(), Some(position));
    let expected = if position < 0.5 { "control" } else { "cooler" };
    assert_eq!(
        (a["variant"].as_str(), a["reason"].as_str()),
        (Some(expected), Some("assigned"))
    );
    let text = env.ok(&["experiments", "assign", "temp", "session-1"]);
    assert!(
        text.contains("control [0, 0.5)") && text.contains("cooler [0.5, 1)"),
        "{text}"
    );

    env.ok(&["experiments", "pause", "temp"]);
    let a = env.json(&["experiments", "assign", "temp", "session-1"]);
    assert_eq!(
        (a["variant"].as_str(), a["reason"].as_str()),
        (Some("control"), Some("paused"))
    );
    env.ok(&["experiments", "resume", "temp"]);
    let err = env.refused(&["experiments", "complete", "temp", "--winner", "hotter"]);
    assert!(err.contains("`hotter` is not a variant"), "{err}");
    env.ok(&[
        "experiments",
        "complete",
        "temp",
        "--winner",
        "cooler",
        "--reason",
        "won",
    ]);

    let shown = env.json(&["experiments", "show", "temp"]);
    assert_eq!(shown["experiment"]["winner"], "cooler");
    assert_eq!(shown["revision"], 5);
    let log: Vec<(String, String, String)> = shown["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("{shown}"))
        .iter()
        .map(|d| {
            let e = &d["entry"];
            let s = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            (s("what"), s("who"), s("why"))
        })
        .collect();
    let row = |what: &str, who: &str, why: &str| (what.into(), who.into(), why.into());
    assert_eq!(
        log,
        [
            row("create", "tester", "-"),
            row("start", "alice", "ticket 42"),
            row("pause", "tester", "-"),
            row("resume", "tester", "-"),
            row("complete", "tester", "won"),
        ]
    );
    let a = env.json(&["experiments", "assign", "temp", "anyone"]);
    assert_eq!(
        (a["variant"].as_str(), a["reason"].as_str()),
        (Some("cooler"), Some("completed"))
    );
    let list = env.ok(&["experiments", "list"]);
    assert!(
        list.contains("temp") && list.contains("completed"),
        "{list}"
    );
}

#[test]
fn illegal_transitions_and_bad_input_are_refused_clearly() {
    let env = Env::new();
    env.create("temp", "order_status");
    let err = env.refused(&["experiments", "pause", "temp"]);
    assert!(
        err.contains("cannot pause experiment `temp`: it is draft"),
        "{err}"
    );
    assert!(
        env.refused(&["experiments", "resume", "temp"])
            .contains("it is draft")
    );
    assert!(
        env.refused(&["experiments", "complete", "temp"])
            .contains("it is draft")
    );
    env.ok(&["experiments", "start", "temp"]);
    assert!(
        env.refused(&["experiments", "start", "temp"])
            .contains("it is running")
    );
    env.ok(&["experiments", "complete", "temp"]);
    assert!(
        env.refused(&["experiments", "resume", "temp"])
            .contains("it is completed")
    );

    let err = env.refused(&["experiments", "show", "nope"]);
    assert!(err.contains("no experiment `nope` in the store"), "{err}");
    let err = env.refused(&["experiments", "start", "nope"]);
    assert!(err.contains("no experiment `nope`"), "{err}");
    let garbage = env.file("bad.toml", "id = \"x\"\nintent = [");
    assert!(
        env.refused(&["experiments", "create", &garbage])
            .contains("is not a valid experiment")
    );
    let weights = env.file(
        "weights.json",
        r#"{"id": "w", "intent": "order_status", "control": "a",
            "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 1.5,
                          "overrides": {"top_p": 2.0}}]}"#,
    );
    let err = env.refused(&["experiments", "create", &weights]);
    assert!(err.contains("weights.json.variants[1].weight"), "{err}");
    assert!(
        err.contains("weights.json.variants[1].overrides.top_p"),
        "{err}"
    );
    // The same id twice.
    let err = env.refused(&[
        "experiments",
        "create",
        &env.dir.path().join("temp.toml").display().to_string(),
    ]);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn a_second_running_experiment_on_one_intent_is_refused() {
    let env = Env::new();
    env.create("first", "chitchat");
    env.create("second", "chitchat");
    env.create("elsewhere", "manga_qa");
    env.ok(&["experiments", "start", "first"]);
    let err = env.refused(&["experiments", "start", "second"]);
    assert!(
        err.contains("experiment `first` already runs on intent `chitchat`"),
        "{err}"
    );
    env.ok(&["experiments", "start", "elsewhere"]);
    env.ok(&["experiments", "pause", "first"]);
    env.ok(&["experiments", "start", "second"]);
    assert!(
        env.refused(&["experiments", "resume", "first"])
            .contains("`second` already runs")
    );
}

#[tokio::test]
async fn profiles_are_set_listed_and_rolled_back_on_the_store() {
    let env = Env::new();
    let set = env.json(&[
        "profiles",
        "set",
        "order_status",
        "--field",
        "temperature=0.3",
    ]);
    assert_eq!(
        (set["revision"].as_u64(), set["changed"].clone()),
        (Some(1), json!(["temperature"]))
    );
    let fields = env.file("p.toml", "top_k = 50\nversion = \"exp-v2\"\n");
    env.ok(&[
        "profiles",
        "set",
        "order_status",
        &fields,
        "--author",
        "bob",
    ]);
    let err = env.refused(&[
        "profiles",
        "set",
        "order_status",
        "--field",
        "temperature=1.5",
    ]);
    assert!(err.contains("profiles.order_status.temperature"), "{err}");
    assert!(err.contains("out of range"), "{err}");
    let err = env.refused(&[
        "profiles",
        "set",
        "order_status",
        "--field",
        "temprature=0.1",
    ]);
    assert!(
        err.contains("profiles.order_status") && err.contains("temprature"),
        "{err}"
    );

    let err = env.refused(&["profiles", "set", "order_stats", "--field", "top_k=5"]);
    assert!(err.contains("pass --new"), "{err}");

    let history = env.json(&["profiles", "history", "order_status"]);
    let rows: Vec<(u64, String, Value)> = history
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap_or(0),
                r["updated_by"].as_str().unwrap_or("").into(),
                r["changed"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "tester".into(), json!(["temperature"])),
            (2, "bob".into(), json!(["top_k", "version"]))
        ]
    );
    let rolled = env.json(&["profiles", "rollback", "order_status", "1"]);
    assert_eq!(rolled["revision"], 3);
    assert_eq!(rolled["layer"], json!({"temperature": 0.3}));
    assert!(
        env.ok(&["profiles", "history", "order_status"])
            .contains("top_k, version")
    );
    assert!(
        env.refused(&["profiles", "rollback", "order_status", "9"])
            .contains("no revision 9")
    );

    // Two writers from the same revision: exactly one wins.
    let store = env.store().await;
    let body = json!({"temperature": 0.2});
    let first = store
        .put(Kind::Profile, "order_status", &body, 3, "w1")
        .await;
    let second = store
        .put(Kind::Profile, "order_status", &body, 3, "w2")
        .await;
    assert_eq!(first, Ok(4));
    assert_eq!(second, Err(StoreError::Conflict { current: 4 }));
}

/// One arm's raw data: per session, its (quality, error) values.
fn arm(treatment: bool) -> Vec<(String, Vec<(f64, f64)>)> {
    (0..40u32)
        .map(|i| {
            let values = (0..1 + i % 3)
                .map(|j| match treatment {
                    false => (
                        f64::from((i * 3 + j * 5) % 5) / 4.0,
                        f64::from(u8::from((i + j) % 6 == 0)),
                    ),
                    true => (
                        f64::from((i * 3 + j * 5) % 4 + 1) / 4.0,
                        f64::from(u8::from((i + j) % 9 == 0)),
                    ),
                })
                .collect();
            (
                format!("{}{i:02}", if treatment { "t" } else { "c" }),
                values,
            )
        })
        .collect()
}

/// Writes both arms as one batch, and returns the summary file the same
/// figures make, computed here from the raw values.
fn record(batch: &mut Batch, variant: &str, sessions: &[(String, Vec<(f64, f64)>)]) -> Value {
    let mut metrics = serde_json::Map::new();
    for (index, name) in ["quality", "error"].into_iter().enumerate() {
        let pick = |v: &(f64, f64)| if index == 0 { v.0 } else { v.1 };
        let all: Vec<f64> = sessions
            .iter()
            .flat_map(|(_, v)| v.iter().map(pick))
            .collect();
        let sums = RequestSums {
            n: all.len() as u64,
            sum: all.iter().sum(),
            sum_sq: all.iter().map(|x| x * x).sum(),
        };
        let key = MetricKey {
            experiment: "temp".into(),
            variant: variant.into(),
            metric: name.into(),
        };
        batch.requests.insert(key, sums);
        let per: Vec<(f64, f64)> = sessions
            .iter()
            .map(|(_, v)| (v.iter().map(pick).sum(), v.len() as f64))
            .collect();
        let per_session = json!({
            "sessions": per.len(),
            "sum_y": per.iter().map(|p| p.0).sum::<f64>(),
            "sum_y_sq": per.iter().map(|p| p.0 * p.0).sum::<f64>(),
            "sum_m": per.iter().map(|p| p.1).sum::<f64>(),
            "sum_m_sq": per.iter().map(|p| p.1 * p.1).sum::<f64>(),
            "sum_ym": per.iter().map(|p| p.0 * p.1).sum::<f64>(),
        });
        let figures = match index {
            0 => {
                json!({"n": sums.n, "sum": sums.sum, "sum_sq": sums.sum_sq, "per_session": per_session})
            }
            _ => json!({"n": sums.n, "successes": sums.sum as u64, "per_session": per_session}),
        };
        metrics.insert(name.into(), figures);
    }
    for (session, values) in sessions {
        let key = SessionKey {
            experiment: "temp".into(),
            variant: variant.into(),
            session: session.clone(),
        };
        let m = values.len() as u64;
        let contribution = |y: f64| Contribution { y, m };
        let delta = SessionDelta {
            phase: "coverage-1".into(),
            requests: m,
            metrics: BTreeMap::from([
                (
                    "quality".to_string(),
                    contribution(values.iter().map(|v| v.0).sum()),
                ),
                (
                    "error".to_string(),
                    contribution(values.iter().map(|v| v.1).sum()),
                ),
            ]),
        };
        batch.sessions.insert(key, delta);
    }
    let requests: usize = sessions.iter().map(|(_, v)| v.len()).sum();
    json!({"weight": 0.5, "sessions": sessions.len(), "requests": requests, "metrics": metrics})
}

#[tokio::test]
async fn analyze_reads_the_stored_results_and_matches_the_engine_and_scipy() {
    let env = Env::new();
    env.create("temp", "order_status");
    env.ok(&["experiments", "start", "temp"]);
    let mut batch = Batch::new(BatchId {
        writer: "test".into(),
        sequence: 1,
    });
    let control = record(&mut batch, "control", &arm(false));
    let cooler = record(&mut batch, "cooler", &arm(true));
    env.store()
        .await
        .apply(&batch)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let report = env.json(&["experiments", "analyze", "temp"]);
    let metric = |variant: &str, name: &str| -> Value {
        let v = report["variants"]
            .as_array()
            .and_then(|a| a.iter().find(|v| v["name"] == variant));
        let m = v.and_then(|v| {
            v["metrics"]
                .as_array()?
                .iter()
                .find(|m| m["metric"] == name)
                .cloned()
        });
        m.unwrap_or_else(|| panic!("no {variant}.{name} in {report}"))
    };
    let quality = metric("cooler", "quality");
    assert_eq!(quality["decision_level"], "session");
    assert_eq!(report["primary_metric"], "quality");
    // scipy 1.17.1: stats.ttest_ind(cooler_quality, control_quality,
    // equal_var=False) over the 79 request values of each arm generated as
    // in `arm` → statistic 2.4570615993064506, pvalue 0.015158394426041086.
    let request = &quality["request_level"]["comparison"];
    let close = |x: &Value, want: f64| {
        (x.as_f64().unwrap_or(f64::NAN) - want).abs() < 1e-9 * want.abs().max(1.0)
    };
    assert!(close(&request["t"], 2.4570615993064506), "{request}");
    assert!(
        close(&request["p_value"], 0.015158394426041086),
        "{request}"
    );
    // stats.chi2_contingency([[13, 66], [9, 70]], correction=False) →
    // statistic 0.8449197860962567, pvalue 0.35799348977142265.
    let chi = report["arms_tests"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["metric"] == "error").cloned());
    let chi = chi.unwrap_or_else(|| panic!("{report}"));
    assert!(
        close(&chi["result"]["p_value"], 0.35799348977142265),
        "{chi}"
    );

    // The engine fed the same figures directly, as a summary file, gives
    // the very same JSON.
    let summary = json!({
        "alpha": 0.05, "control": "control", "primary_metric": "quality",
        "higher_is_better": true, "sequential_tuning_n": 1000,
        "variants": {"control": control, "cooler": cooler},
        "srm_phases": [{"name": "coverage-1", "weights": {"control": 0.5, "cooler": 0.5},
                        "sessions": {"control": 40, "cooler": 40}}],
    });
    let file = env.file("summary.json", &summary.to_string());
    let direct = env.ok(&["analyze", "--summary", &file, "--json"]);
    let from_store = env.ok(&["experiments", "analyze", "temp", "--json"]);
    assert_eq!(from_store, direct);
    let text = env.ok(&["experiments", "analyze", "temp"]);
    assert!(
        text.starts_with("experiment temp on intent order_status (running)"),
        "{text}"
    );
}
