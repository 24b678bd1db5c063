//! The DynamoDB backend: three tables under one prefix.
//!
//! - `<prefix>documents` (pk, sk): document heads and revisions, decision
//!   log entries and the meta record;
//! - `<prefix>results` (pk, sk): sharded counters per (experiment,
//!   variant, metric) and per phase, and batch receipts (with a TTL);
//! - `<prefix>sessions` (pk): running totals per session (with a TTL).
//!
//! `docs/store.md` gives every item's layout and the exactly-once design.

mod attrs;
mod documents;
mod meta;
mod results;
mod sessions;
mod tables;

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use tokio::sync::OnceCell;

use super::{DynamoConfig, StoreConfig};

/// Calls the SDK makes per operation at most (the first and two retries).
const MAX_ATTEMPTS: u32 = 3;

/// A store in DynamoDB tables.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Arc<Tables>,
    /// Counter shards this process writes into (one, chosen per writer).
    shards: u32,
    session_ttl: Duration,
    /// Set once the meta record has been checked before a first write.
    prepared: Arc<OnceCell<()>>,
}

/// The three table names.
#[derive(Debug)]
struct Tables {
    prefix: String,
    documents: String,
    results: String,
    sessions: String,
}

impl DynamoStore {
    /// A client on the default AWS credential chain and the sidecar's
    /// rustls HTTP client. Nothing is sent until the first call.
    pub async fn connect(dynamo: &DynamoConfig, config: &StoreConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
        if let Some(region) = &dynamo.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        Self::from_sdk_config(&loader.load().await, dynamo, config)
    }

    /// A client from an SDK configuration the caller built (tests use
    /// static credentials); timeouts, retries, the HTTP client and the
    /// endpoint come from the store's own settings.
    pub fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        dynamo: &DynamoConfig,
        config: &StoreConfig,
    ) -> Self {
        let attempt = config.timeout;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(attempt)
            .operation_attempt_timeout(attempt)
            .operation_timeout(attempt.saturating_mul(MAX_ATTEMPTS))
            .build();
        let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk)
            .http_client(http_client())
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(url) = &dynamo.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        let prefix = &dynamo.table_prefix;
        Self {
            client: Client::from_conf(builder.build()),
            tables: Arc::new(Tables {
                prefix: prefix.clone(),
                documents: format!("{prefix}documents"),
                results: format!("{prefix}results"),
                sessions: format!("{prefix}sessions"),
            }),
            shards: config.shards,
            session_ttl: config.session_ttl,
            prepared: Arc::new(OnceCell::new()),
        }
    }

    /// The prefix of this store's table names.
    pub fn table_prefix(&self) -> &str {
        &self.tables.prefix
    }

    /// The SDK client, for tests and tools that inspect the tables.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// The sidecar's HTTP client (rustls on ring), as in the credential chain:
/// no second TLS stack and no hyper 0.14.
fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The shard a writer puts its increments in: a stable hash (FNV-1a) of
/// its id, so that one writer always adds to the same items and writers
/// spread over the shards.
fn shard_of(writer: &str, shards: u32) -> u32 {
    let hash = writer.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    u32::try_from(hash % u64::from(shards.max(1))).unwrap_or(0)
}
