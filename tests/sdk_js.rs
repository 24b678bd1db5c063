//! The real JavaScript SDK (`@aws-sdk/client-bedrock-runtime`, installed by
//! the test command into tests/js) speaks cleartext HTTP/2 with prior
//! knowledge to an `http://` endpoint: the listener must answer it.

mod support;

use std::process::Command;

use support::{Mock, Sidecar};

#[test]
fn the_javascript_sdk_calls_all_four_operations_over_h2c() {
    let mock = Mock::start();
    let sidecar = Sidecar::start(&mock.url(), &[]);
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        js.join("node_modules/@aws-sdk/client-bedrock-runtime")
            .exists(),
        "run `npm ci` in tests/js first (scripts/test.sh does)"
    );
    let out = Command::new("node")
        .arg("bedrock.mjs")
        .current_dir(&js)
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", sidecar.url())
        .env("MOCK_CONTROL_URL", mock.url())
        .output()
        .unwrap_or_else(|e| panic!("node is needed for this test: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(seen["invoke"].as_u64() > Some(0), "{seen}");
    assert!(seen["converse"].as_u64() > Some(0), "{seen}");
    assert!(seen["invoke_stream_events"].as_u64() > Some(2), "{seen}");
    assert!(seen["converse_stream_events"].as_u64() > Some(2), "{seen}");
    let records = mock.requests();
    assert_eq!(records.len(), 4);
    assert!(
        records.iter().all(|r| r["verification"]["ok"] == true),
        "{records:?}"
    );
    assert!(
        records.iter().all(|r| r["gate"] != "timeout"),
        "a stream was buffered"
    );
    let h2 = sidecar.metric("bedrock_tuner_client_protocol_requests_total{", &["h2"]);
    assert_eq!(h2, 4.0, "the JavaScript SDK did not use HTTP/2");
}
