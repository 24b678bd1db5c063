//! Raw configuration checked into runtime [`Settings`], every problem
//! reported with its key path.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawConfig, RawProxy};
use super::{LogSettings, Overrides, Settings, Source, Sourced, TuningSettings, UpstreamTarget};
use crate::tuning::{TuningPolicy, UnknownIntent, Unparseable};

/// Bedrock refuses bodies larger than this; so does the sidecar, earlier.
pub const BEDROCK_MAX_BODY_BYTES: u64 = 25_000_000;
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";
/// Room for ten requests at Bedrock's size limit at once.
const DEFAULT_BODY_BUDGET: u64 = 10 * BEDROCK_MAX_BODY_BYTES;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path such as `proxy.listen`; empty for the whole file.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Every problem found, so an operator fixes them in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn one(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors while the settings are checked one by one.
#[derive(Default)]
struct Checker {
    errors: Vec<ConfigError>,
}

impl Checker {
    fn fail(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(ConfigError::new(key, message));
    }

    fn addr(&mut self, key: &str, value: &str) -> SocketAddr {
        value.parse().unwrap_or_else(|_| {
            self.fail(
                key,
                format!("`{value}` is not an address like 127.0.0.1:8080"),
            );
            SocketAddr::from(([127, 0, 0, 1], 0))
        })
    }

    fn header(&mut self, key: &str, value: &str) -> http::HeaderName {
        http::HeaderName::from_bytes(value.trim().to_ascii_lowercase().as_bytes()).unwrap_or_else(
            |_| {
                self.fail(key, format!("`{value}` is not a valid HTTP header name"));
                http::HeaderName::from_static("x-invalid")
            },
        )
    }

    fn positive(&mut self, key: &str, value: u64) -> u64 {
        if value == 0 {
            self.fail(key, "must be greater than 0");
        }
        value
    }
}

/// Picks the layer a value comes from: flag over file over default.
fn layered<T: Clone>(flag: Option<T>, file: Option<T>, default: T) -> (T, Source) {
    match (flag, file) {
        (Some(v), _) => (v, Source::Flag),
        (None, Some(v)) => (v, Source::File),
        (None, None) => (default, Source::Default),
    }
}

pub(super) fn settings(raw: &RawConfig, overrides: &Overrides) -> Result<Settings, ConfigErrors> {
    let mut check = Checker::default();
    let p = &raw.proxy;
    let listen = sourced_addr(
        &mut check,
        "proxy.listen",
        overrides.listen,
        &p.listen,
        DEFAULT_LISTEN,
    );
    let admin_listen = sourced_addr(
        &mut check,
        "admin.listen",
        overrides.admin_listen,
        &raw.admin.listen,
        DEFAULT_ADMIN_LISTEN,
    );
    let upstream = upstream(&mut check, p, overrides);
    let settings = Settings {
        listen,
        admin_listen,
        upstream,
        ca_file: p.ca_file.as_ref().map(PathBuf::from),
        connect_timeout: Duration::from_millis(check.positive(
            "proxy.connect_timeout_ms",
            p.connect_timeout_ms.unwrap_or(3_000),
        )),
        max_body_bytes: body_limit(&mut check, p),
        body_budget_bytes: check.positive(
            "proxy.body_budget_bytes",
            p.body_budget_bytes.unwrap_or(DEFAULT_BODY_BUDGET),
        ) as usize,
        allowed_models: p.allowed_models.clone().unwrap_or_default(),
        intent_header: check.header(
            "proxy.intent_header",
            p.intent_header.as_deref().unwrap_or("x-intent"),
        ),
        session_header: check.header(
            "proxy.session_header",
            p.session_header.as_deref().unwrap_or("x-session-id"),
        ),
        shutdown_grace: Duration::from_secs(p.shutdown_grace_secs.unwrap_or(30)),
        log: log(&mut check, raw),
        tuning: tuning(&mut check, raw),
        store: store(&mut check, raw),
        prices: crate::observe::PriceTable::new(raw.prices.clone()),
        sources: file_sources(raw),
    };
    match check.errors.is_empty() {
        true => Ok(settings),
        false => Err(ConfigErrors(check.errors)),
    }
}

/// The plain settings the file named; the rest are defaults.
fn file_sources(raw: &RawConfig) -> std::collections::BTreeMap<&'static str, Source> {
    let p = &raw.proxy;
    let named = [
        ("proxy.max_body_bytes", p.max_body_bytes.is_some()),
        ("proxy.body_budget_bytes", p.body_budget_bytes.is_some()),
        ("proxy.connect_timeout_ms", p.connect_timeout_ms.is_some()),
        ("proxy.allowed_models", p.allowed_models.is_some()),
        ("proxy.intent_header", p.intent_header.is_some()),
        ("proxy.session_header", p.session_header.is_some()),
        ("proxy.shutdown_grace_secs", p.shutdown_grace_secs.is_some()),
        ("log.format", raw.log.format.is_some()),
        ("log.level", raw.log.level.is_some()),
    ];
    named
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(key, _)| (key, Source::File))
        .collect()
}

fn sourced_addr(
    check: &mut Checker,
    key: &str,
    flag: Option<SocketAddr>,
    file: &Option<String>,
    default: &str,
) -> Sourced<SocketAddr> {
    let (text, source) = layered(flag.map(|a| a.to_string()), file.clone(), default.into());
    Sourced::new(check.addr(key, &text), source)
}

fn body_limit(check: &mut Checker, p: &RawProxy) -> usize {
    let limit = check.positive(
        "proxy.max_body_bytes",
        p.max_body_bytes.unwrap_or(BEDROCK_MAX_BODY_BYTES),
    );
    if limit > BEDROCK_MAX_BODY_BYTES {
        check.fail(
            "proxy.max_body_bytes",
            format!("{limit} is above Bedrock's own limit of {BEDROCK_MAX_BODY_BYTES} bytes"),
        );
    }
    limit as usize
}

fn upstream(check: &mut Checker, p: &RawProxy, o: &Overrides) -> Sourced<UpstreamTarget> {
    let (url, url_source) = layered(
        o.upstream.clone().map(Some),
        p.upstream.clone().map(Some),
        None,
    );
    let (region, region_source) =
        layered(o.region.clone().map(Some), p.region.clone().map(Some), None);
    let url = url.filter(|u| !u.trim().is_empty());
    let region = region.filter(|r| !r.trim().is_empty());
    for r in region.iter().chain(o.ambient_region.iter()) {
        if !valid_region(r) {
            check.fail(
                "proxy.region",
                format!("`{r}` is not a region name like us-east-1"),
            );
        }
    }
    let source = url_source.max_by_precedence(region_source);
    // A region or upstream named in the configuration pins the sidecar;
    // the AWS environment's region is only a fallback for requests that
    // name none (bearer tokens).
    // With an upstream pinned but no region configured, the AWS
    // environment's region is the one to sign for.
    let region = region.or_else(|| o.ambient_region.clone().filter(|_| url.is_some()));
    let target = match (url, region) {
        (None, None) => UpstreamTarget::FollowRequest {
            fallback_region: o.ambient_region.clone(),
        },
        (Some(url), Some(region)) => UpstreamTarget::Pinned {
            base: base_uri(check, &url),
            region,
        },
        (None, Some(region)) => UpstreamTarget::Pinned {
            base: aws_endpoint(&region),
            region,
        },
        (Some(url), None) => {
            check.fail(
                "proxy.region",
                format!(
                    "an upstream ({url}) is set, so the region it is signed for must be set too"
                ),
            );
            UpstreamTarget::FollowRequest {
                fallback_region: None,
            }
        }
    };
    Sourced::new(target, source)
}

fn aws_endpoint(region: &str) -> http::Uri {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("https://bedrock-runtime.invalid"))
}

fn base_uri(check: &mut Checker, url: &str) -> http::Uri {
    let parsed: Result<http::Uri, _> = url.trim_end_matches('/').parse();
    match parsed {
        Ok(uri)
            if matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.authority().is_some()
                && matches!(uri.path(), "" | "/") =>
        {
            uri
        }
        _ => {
            check.fail(
                "proxy.upstream",
                format!("`{url}` is not an http:// or https:// URL with a host and no path"),
            );
            http::Uri::from_static("http://127.0.0.1")
        }
    }
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn tuning(check: &mut Checker, raw: &RawConfig) -> TuningSettings {
    let t = &raw.tuning;
    let unknown_intent = match t.unknown_intent.as_deref().unwrap_or("conservative") {
        "conservative" => UnknownIntent::Conservative,
        "pass_through" => UnknownIntent::PassThrough,
        other => {
            check.fail(
                "tuning.unknown_intent",
                format!("`{other}` is neither `conservative` nor `pass_through`"),
            );
            UnknownIntent::Conservative
        }
    };
    let unparseable = match t.on_unparseable.as_deref().unwrap_or("forward") {
        "forward" => Unparseable::Forward,
        "reject" => Unparseable::Reject,
        other => {
            check.fail(
                "tuning.on_unparseable",
                format!("`{other}` is neither `forward` nor `reject`"),
            );
            Unparseable::Forward
        }
    };
    TuningSettings {
        policy: TuningPolicy {
            unknown_intent,
            unparseable,
            derive_session: t.derive_session.unwrap_or(true),
        },
        model_limits_file: t.model_limits_file.as_ref().map(PathBuf::from),
        profiles: raw.profiles.clone(),
        experiments: raw.experiments.clone(),
        prompts: raw.prompts.clone(),
        few_shots: raw.few_shots.clone(),
        intent_rules: raw.intent_rules.clone(),
        classifier: raw.classifier.clone(),
        quality: raw.quality.clone(),
        store_profiles: Default::default(),
        store_experiments: Vec::new(),
    }
}

fn store(check: &mut Checker, raw: &RawConfig) -> crate::store::StoreConfig {
    raw.store.validate().unwrap_or_else(|errors| {
        for e in errors {
            check.fail(&e.key, e.message);
        }
        crate::store::StoreConfig::default()
    })
}

fn log(check: &mut Checker, raw: &RawConfig) -> LogSettings {
    let json = match raw.log.format.as_deref().unwrap_or("text") {
        "text" => false,
        "json" => true,
        other => {
            check.fail(
                "log.format",
                format!("`{other}` is neither `text` nor `json`"),
            );
            false
        }
    };
    LogSettings {
        json,
        level: raw.log.level.clone().unwrap_or_else(|| "info".into()),
    }
}

impl Source {
    fn max_by_precedence(self, other: Source) -> Source {
        let rank = |s: Source| match s {
            Source::Default => 0,
            Source::File => 1,
            Source::Flag => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}
