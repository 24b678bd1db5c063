//! The configuration file: defaults, layering, and clear errors with key
//! paths for bad input.

use std::io::Write;

use bedrock_tuner::config::{Overrides, Settings, Source, UpstreamTarget};

fn load(text: &str, overrides: &Overrides) -> Result<Settings, String> {
    let mut file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    Settings::load(Some(file.path()), overrides).map_err(|e| e.to_string())
}

#[test]
fn the_example_file_is_valid_and_matches_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sidecar.toml");
    let from_file = Settings::load(Some(&path), &Overrides::default())
        .unwrap_or_else(|e| panic!("sidecar.toml: {e}"));
    let defaults = Settings::load(None, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_file.listen.value, defaults.listen.value);
    assert_eq!(from_file.admin_listen.value, defaults.admin_listen.value);
    assert_eq!(from_file.max_body_bytes, defaults.max_body_bytes);
    assert_eq!(from_file.body_budget_bytes, defaults.body_budget_bytes);
    assert_eq!(from_file.listen.source, Source::File);
    assert_eq!(defaults.listen.source, Source::Default);
    assert_eq!(defaults.listen.value.to_string(), "127.0.0.1:8080");
    assert!(
        defaults.listen.value.ip().is_loopback() && defaults.admin_listen.value.ip().is_loopback()
    );
}

#[test]
fn every_error_is_reported_with_its_key_path() {
    let text = "[proxy]\nlisten = \"nowhere\"\nmax_body_bytes = 0\nintent_header = \"bad header\"\n\
                [log]\nformat = \"xml\"\n";
    let message = load(text, &Overrides::default()).err().unwrap_or_default();
    for expected in [
        "proxy.listen: `nowhere` is not an address",
        "proxy.max_body_bytes: must be greater than 0",
        "proxy.intent_header: `bad header` is not a valid HTTP header name",
        "log.format: `xml` is neither",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in:\n{message}"
        );
    }
}

#[test]
fn unknown_keys_are_errors_with_their_table() {
    let message = load(
        "[proxy]\nlisten = \"127.0.0.1:1\"\nretries = 3\n",
        &Overrides::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(
        message.starts_with("proxy.retries: unknown field `retries`"),
        "{message}"
    );
    assert!(message.contains("line 3"), "{message}");
    let message = load("[metrics]\n", &Overrides::default())
        .err()
        .unwrap_or_default();
    assert!(message.contains("unknown field `metrics`"), "{message}");
}

#[test]
fn a_body_limit_above_bedrocks_is_refused() {
    let message = load(
        "[proxy]\nmax_body_bytes = 25000001\n",
        &Overrides::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(message.contains("above Bedrock's own limit"), "{message}");
}

#[test]
fn flags_override_the_file_and_say_so() {
    let overrides = Overrides {
        listen: Some("127.0.0.1:7000".parse().unwrap_or_else(|e| panic!("{e}"))),
        upstream: Some("http://127.0.0.1:9000".into()),
        region: Some("eu-west-1".into()),
        ..Overrides::default()
    };
    let s = load(
        "[proxy]\nlisten = \"127.0.0.1:8000\"\nregion = \"us-east-1\"\n",
        &overrides,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.listen.value.port(), 7000);
    assert_eq!(s.listen.source, Source::Flag);
    match s.upstream.value {
        UpstreamTarget::Pinned { base, region } => {
            assert_eq!(region, "eu-west-1");
            assert_eq!(base.authority().map(|a| a.as_str()), Some("127.0.0.1:9000"));
        }
        other => panic!("expected a pinned upstream, got {other:?}"),
    }
}

#[test]
fn region_rules_follow_pin_and_fallback() {
    let ambient = Overrides {
        ambient_region: Some("us-west-2".into()),
        ..Overrides::default()
    };
    let s = Settings::load(None, &ambient).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.upstream.value,
        UpstreamTarget::FollowRequest {
            fallback_region: Some("us-west-2".into())
        }
    );
    let s = load(
        "[proxy]\nregion = \"eu-central-1\"\n",
        &Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(s.upstream.value, UpstreamTarget::Pinned { ref region, .. } if region == "eu-central-1")
    );
    let message = load(
        "[proxy]\nupstream = \"http://127.0.0.1:1\"\n",
        &Overrides::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(message.contains("proxy.region: an upstream"), "{message}");
    let message = load(
        "[proxy]\nupstream = \"ftp://x/y\"\nregion = \"us-east-1\"\n",
        &Overrides::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(
        message.contains("proxy.upstream: `ftp://x/y` is not an http"),
        "{message}"
    );
}
