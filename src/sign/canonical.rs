//! The canonical request of an ordinary Bedrock call, written straight into
//! one buffer.
//!
//! aws-sigv4's `sign()` handles every SigV4 variant (query signing, S3's
//! single encoding, duplicate headers, whitespace folding) and pays for that
//! generality on each call: a header map rebuilt with lower-cased copies of
//! every name, a sorted list of owned names, the canonical request and the
//! string to sign formatted into fresh strings, some seventy allocations in
//! all, a third of the sidecar's own instructions per request. A call from
//! an AWS SDK needs none of those cases: no query string, a path with
//! nothing to normalise, single-valued headers with nothing to fold.
//! Those calls are signed here, with aws-sigv4's own key derivation (the
//! key kept for the day, see `day_key`) and HMAC; anything else returns
//! `None` and goes through `sign()`. Tests prove both produce the same
//! signature for every request this path accepts.

use std::fmt::Write as _;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4;
use http::HeaderValue;
use http::header::HeaderName;
use sha2::{Digest, Sha256};

use super::day_key::DayKey;
use super::{SERVICE, is_signed, normalizing_changes_nothing};
use crate::calendar::civil_date;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(super) const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
pub(super) const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

/// What the signer adds to a request: its three headers' values.
pub(super) struct Signed {
    pub date_time: String,
    pub authorization: String,
    pub security_token: Option<HeaderValue>,
}

/// Signs the request as aws-sigv4 would with its default settings, or
/// returns `None` when the request is outside the cases written here.
pub(super) fn sign(
    request: &http::Request<bytes::Bytes>,
    credentials: &Credentials,
    day_key: &DayKey,
    region: &str,
    now: SystemTime,
) -> Option<Signed> {
    if request.uri().query().is_some() {
        return None;
    }
    let path = request.uri().path();
    if !normalizing_changes_nothing(path) || !path.bytes().all(path_byte_is_plain) {
        return None;
    }
    let token = match credentials.session_token() {
        Some(token) => Some(HeaderValue::from_str(token).ok()?),
        None => None,
    };
    let stamp = Stamp::of(now)?;
    let headers = SignedHeaders::collect(request.headers(), &stamp.date_time, token.as_ref())?;

    let mut canonical = String::with_capacity(512);
    canonical.push_str(request.method().as_str());
    canonical.push('\n');
    push_encoded_path(&mut canonical, path);
    canonical.push_str("\n\n");
    for (name, value) in &headers.entries {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
    }
    canonical.push('\n');
    let names_start = canonical.len();
    headers.push_names(&mut canonical);
    let names_end = canonical.len();
    canonical.push('\n');
    push_hex(&mut canonical, &Sha256::digest(request.body()));

    let scope = format!("{}/{region}/{SERVICE}/aws4_request", stamp.date);
    let mut to_sign = String::with_capacity(160);
    to_sign.push_str(ALGORITHM);
    to_sign.push('\n');
    to_sign.push_str(&stamp.date_time);
    to_sign.push('\n');
    to_sign.push_str(&scope);
    to_sign.push('\n');
    push_hex(&mut to_sign, &Sha256::digest(canonical.as_bytes()));

    let key = day_key.get(credentials.secret_access_key(), &stamp.date, now, region);
    let signature = v4::calculate_signature(key, to_sign.as_bytes());
    let mut authorization = String::with_capacity(256);
    let _ = write!(
        authorization,
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        credentials.access_key_id(),
        &canonical[names_start..names_end],
    );
    Some(Signed {
        date_time: stamp.date_time,
        authorization,
        security_token: token,
    })
}

/// Bytes that SigV4's second encoding of an already-encoded path leaves
/// alone or turns into a fixed escape (`%`, and the `:` of model ids that
/// SDKs send unencoded). Anything else takes aws-sigv4's general path.
fn path_byte_is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'.' | b'_' | b'~' | b'%' | b':')
}

fn push_encoded_path(out: &mut String, path: &str) {
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            _ => out.push(c),
        }
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
}

/// The signed headers in canonical order, borrowed from the request except
/// for the two the signer sets itself.
struct SignedHeaders<'a> {
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> SignedHeaders<'a> {
    fn collect(
        headers: &'a http::HeaderMap,
        date_time: &'a str,
        token: Option<&'a HeaderValue>,
    ) -> Option<Self> {
        let mut entries = Vec::with_capacity(8);
        let mut has_host = false;
        for (name, value) in headers {
            let name = name.as_str();
            if !is_signed(name) {
                continue;
            }
            // aws-sigv4's default settings leave the trace id unsigned, as
            // proxies rewrite it.
            if name == "x-amzn-trace-id" {
                continue;
            }
            // The signer's own headers must not come from the request.
            if matches!(
                name,
                "x-amz-date" | "x-amz-security-token" | "x-amz-content-sha256"
            ) {
                return None;
            }
            has_host |= name == "host";
            entries.push((name, value_needing_no_folding(value)?));
        }
        if !has_host {
            return None;
        }
        entries.push(("x-amz-date", date_time));
        if let Some(token) = token {
            entries.push(("x-amz-security-token", token.to_str().ok()?));
        }
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        // A repeated name is signed as one comma-joined value: leave it to aws-sigv4.
        if entries.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return None;
        }
        Some(Self { entries })
    }

    fn push_names(&self, out: &mut String) {
        for (i, (name, _)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(name);
        }
    }
}

/// The value as SigV4 signs it, if that is the value itself: visible ASCII
/// with no space at either end and no run of spaces to fold into one.
fn value_needing_no_folding(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let plain = !text.starts_with(' ') && !text.ends_with(' ') && !text.contains("  ");
    plain.then_some(text)
}

/// The request time as SigV4 writes it: `20261204T093015Z` and `20261204`.
struct Stamp {
    date_time: String,
    date: String,
}

impl Stamp {
    fn of(time: SystemTime) -> Option<Self> {
        let secs = time.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
        let (year, month, day) = civil_date(secs / 86_400);
        let in_day = secs % 86_400;
        let date = format!("{year:04}{month:02}{day:02}");
        let date_time = format!(
            "{date}T{:02}{:02}{:02}Z",
            in_day / 3600,
            in_day / 60 % 60,
            in_day % 60
        );
        Some(Self { date_time, date })
    }
}

#[cfg(test)]
mod tests;
