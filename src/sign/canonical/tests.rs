//! The lean signer against aws-sigv4's `sign()`: same request, same time,
//! same credentials, so the headers each adds must be byte for byte equal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use bytes::Bytes;
use proptest::prelude::*;

use super::super::{SigningIdentity, sign_in_general};
use super::*;

const SIGNER_HEADERS: [&str; 3] = ["authorization", "x-amz-date", "x-amz-security-token"];

fn credentials(token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token.map(str::to_owned),
        None,
        "test",
    )
}

fn request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> http::Request<Bytes> {
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Bytes::from(body)).expect("request")
}

fn signer_headers(request: &http::Request<Bytes>) -> Vec<Option<String>> {
    SIGNER_HEADERS
        .iter()
        .map(|name| {
            request
                .headers()
                .get(*name)
                .map(|v| v.to_str().expect("ascii").to_owned())
        })
        .collect()
}

/// The headers aws-sigv4's `sign()` adds, and those the lean path adds, or
/// `None` for the lean path when it declines the request.
fn both(
    request: &http::Request<Bytes>,
    credentials: Credentials,
    region: &str,
    now: SystemTime,
) -> (Vec<Option<String>>, Option<Vec<Option<String>>>) {
    both_with(request, &SigningIdentity::new(credentials), region, now)
}

/// As [`both`], with an identity whose kept signing key may be reused.
fn both_with(
    request: &http::Request<Bytes>,
    identity: &SigningIdentity,
    region: &str,
    now: SystemTime,
) -> (Vec<Option<String>>, Option<Vec<Option<String>>>) {
    let credentials = identity
        .identity
        .data::<Credentials>()
        .expect("credentials");
    let mut general = request.clone();
    sign_in_general(&mut general, identity, region, now).expect("aws-sigv4 signs");
    let lean = sign(request, credentials, &identity.day_key, region, now).map(|signed| {
        let mut lean = request.clone();
        super::super::apply(&mut lean, signed).expect("applies");
        signer_headers(&lean)
    });
    (signer_headers(&general), lean)
}

fn host_header() -> (String, String) {
    (
        "host".into(),
        "bedrock-runtime.us-east-1.amazonaws.com".into(),
    )
}

prop_compose! {
    fn plain_path()(segments in prop::collection::vec("[A-Za-z0-9._~%:-]{1,24}", 1..5)) -> String {
        format!("/{}", segments.join("/"))
    }
}

prop_compose! {
    /// Visible ASCII, single inner spaces, none at either end.
    fn plain_value()(value in "[!-~]([!-~]| [!-~]){0,30}") -> String {
        value
    }
}

const NAMES: [&str; 12] = [
    "content-type",
    "accept",
    "content-length",
    "user-agent",
    "accept-encoding",
    "amz-sdk-request",
    "amz-sdk-invocation-id",
    "x-amz-user-agent",
    "x-amz-client-context",
    "x-amzn-bedrock-guardrailidentifier",
    "x-amzn-bedrock-trace",
    "x-amzn-trace-id",
];

prop_compose! {
    fn extra_headers()(
        picked in prop::sample::subsequence(NAMES.to_vec(), 0..NAMES.len()),
        values in prop::collection::vec(plain_value(), NAMES.len()),
    ) -> Vec<(String, String)> {
        picked.into_iter().zip(values).map(|(n, v)| (n.to_owned(), v)).collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn signs_every_plain_request_as_aws_sigv4_does(
        path in plain_path(),
        extra in extra_headers(),
        body in prop::collection::vec(any::<u8>(), 0..300),
        // 1970 to 2100: the calendar arithmetic's leap years and centuries.
        secs in 0u64..4_102_444_800,
        token in prop::option::of("[A-Za-z0-9+/=]{16,64}"),
        region in prop::sample::select(vec!["us-east-1", "eu-west-3", "ap-northeast-1"]),
        method in prop::sample::select(vec!["POST", "GET"]),
    ) {
        prop_assume!(normalizing_changes_nothing(&path));
        let mut headers = vec![host_header()];
        headers.extend(extra);
        let request = request(method, &path, &headers, body);
        let now = UNIX_EPOCH + Duration::from_secs(secs);
        let (general, lean) = both(&request, credentials(token.as_deref()), region, now);
        prop_assert_eq!(Some(general), lean);
    }
}

#[test]
fn the_calendar_matches_known_dates() {
    for (secs, date_time) in [
        (0, "19700101T000000Z"),
        (951_782_400, "20000229T000000Z"),
        (1_709_251_199, "20240229T235959Z"),
        (4_107_542_400, "21000301T000000Z"),
        (1_796_342_400 + 3_723, "20261204T010203Z"),
    ] {
        let stamp = Stamp::of(UNIX_EPOCH + Duration::from_secs(secs)).expect("after 1970");
        assert_eq!(stamp.date_time, date_time, "{secs}");
        assert_eq!(stamp.date, date_time[..8], "{secs}");
    }
}

#[test]
fn an_sdk_call_takes_the_lean_path_and_matches() {
    let headers = [
        host_header(),
        ("content-type".into(), "application/json".into()),
        ("accept".into(), "application/json".into()),
        (
            "x-amz-user-agent".into(),
            "aws-sdk-js/3.600.0 ua/2.1 os/linux lang/js".into(),
        ),
        (
            "x-amzn-trace-id".into(),
            "Root=1-5759e988-bd862e3fe1be46a994272793".into(),
        ),
    ];
    let request = request(
        "POST",
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
        &headers,
        br#"{"messages":[]}"#.to_vec(),
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_796_428_800);
    let (general, lean) = both(&request, credentials(Some("session")), "us-east-1", now);
    assert_eq!(Some(general.clone()), lean);
    let authorization = general[0].as_deref().expect("signed");
    assert!(
        authorization.contains(
            "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token;x-amz-user-agent,"
        ),
        "{authorization}"
    );
}

#[test]
fn what_the_lean_path_does_not_cover_goes_to_aws_sigv4() {
    let model = "/model/m/invoke";
    let with = |name: &str, value: &str| vec![host_header(), (name.into(), value.into())];
    let declined: [(&str, Vec<(String, String)>); 8] = [
        ("/model/m/invoke?x=1", vec![host_header()]),
        ("/model/a/../b/invoke", vec![host_header()]),
        ("/model/a//invoke", vec![host_header()]),
        ("/model/a+b/invoke", vec![host_header()]),
        (model, with("content-type", "application/json  ")),
        (model, with("x-amz-user-agent", "a  b")),
        (model, with("x-amz-date", "20261204T000000Z")),
        (
            model,
            vec![
                host_header(),
                ("accept".into(), "a".into()),
                ("accept".into(), "b".into()),
            ],
        ),
    ];
    let now = UNIX_EPOCH + Duration::from_secs(1_796_428_800);
    for (target, headers) in declined {
        let uri = format!("https://bedrock-runtime.us-east-1.amazonaws.com{target}");
        let request = request("POST", &uri, &headers, b"{}".to_vec());
        let (general, lean) = both(&request, credentials(None), "us-east-1", now);
        assert_eq!(lean, None, "{target} {headers:?}");
        assert!(general[0].is_some(), "aws-sigv4 still signs {target}");
    }
    // Without a Host header there is nothing to sign the host from; the
    // proxy always sets the upstream's.
    let hostless = request("POST", model, &[], b"{}".to_vec());
    let keys = DayKey::default();
    assert!(sign(&hostless, &credentials(None), &keys, "us-east-1", now).is_none());
}

#[test]
fn a_kept_signing_key_follows_the_date_and_the_region() {
    // One set of credentials signing across midnight and in two regions:
    // each signature must be the one aws-sigv4 derives from scratch.
    let identity = SigningIdentity::new(credentials(None));
    let request = request("POST", "/model/m/invoke", &[host_header()], b"{}".to_vec());
    let midnight = 1_796_342_400;
    for (secs, region) in [
        (midnight - 1, "us-east-1"),
        (midnight - 1, "us-east-1"),
        (midnight, "us-east-1"),
        (midnight + 1, "eu-west-3"),
        (midnight + 2, "us-east-1"),
    ] {
        let now = UNIX_EPOCH + Duration::from_secs(secs);
        let (general, lean) = both_with(&request, &identity, region, now);
        assert_eq!(Some(general), lean, "{secs} {region}");
    }
}
