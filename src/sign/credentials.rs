//! The sidecar's AWS credentials, cached and refreshed ahead of expiry.
//!
//! aws-config's default chain (environment, profile, ECS container
//! credentials, web identity, instance metadata) fetches anew on every call,
//! which would put a network round trip on each request. This cache serves
//! the last credentials and refreshes them in the background well before
//! they expire, so a rotation never fails a request.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::identity::Identity;
use tokio::sync::Mutex;

use super::day_key::DayKey;
use crate::error::ProxyError;

/// Refresh this long before expiry, or at a quarter of the remaining
/// lifetime for short-lived credentials, whichever is sooner.
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// Credentials closer than this to expiry are not used for signing: the
/// request could reach AWS after they lapse.
const MIN_VALIDITY: Duration = Duration::from_secs(15);
/// How often to re-read credentials that carry no expiry (static keys may
/// still be rotated in a profile file).
const STATIC_REFRESH: Duration = Duration::from_secs(15 * 60);
const RETRY_FLOOR: Duration = Duration::from_secs(1);
const RETRY_CEILING: Duration = Duration::from_secs(30);

/// Credentials in the form the signer takes them, built once per fetch:
/// converting credentials to an identity allocates a dozen objects, which
/// every request would otherwise pay.
#[derive(Debug)]
pub struct SigningIdentity {
    pub identity: Identity,
    expiry: Option<SystemTime>,
    /// The lean signer's key for these credentials' secret.
    pub(super) day_key: DayKey,
}

impl SigningIdentity {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            expiry: credentials.expiry(),
            identity: credentials.into(),
            day_key: DayKey::default(),
        }
    }
}

/// Credentials shared by every request.
#[derive(Debug)]
pub struct CredentialCache {
    provider: SharedCredentialsProvider,
    current: ArcSwapOption<SigningIdentity>,
    /// One fetch at a time, so an expired cache does not stampede the chain.
    fetching: Mutex<()>,
}

impl CredentialCache {
    pub fn new(provider: SharedCredentialsProvider) -> Arc<Self> {
        Arc::new(Self {
            provider,
            current: ArcSwapOption::empty(),
            fetching: Mutex::new(()),
        })
    }

    /// Credentials valid for at least a few more seconds, fetched now only
    /// if the cache has none.
    pub async fn get(&self) -> Result<Arc<SigningIdentity>, ProxyError> {
        if let Some(c) = self.usable() {
            return Ok(c);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(c) = self.usable() {
            return Ok(c);
        }
        self.fetch().await
    }

    /// Whether usable credentials are cached now.
    pub fn is_loaded(&self) -> bool {
        self.usable().is_some()
    }

    fn usable(&self) -> Option<Arc<SigningIdentity>> {
        let current = self.current.load_full()?;
        let fresh = match current.expiry {
            Some(expiry) => expiry > SystemTime::now() + MIN_VALIDITY,
            None => true,
        };
        fresh.then_some(current)
    }

    async fn fetch(&self) -> Result<Arc<SigningIdentity>, ProxyError> {
        let fetched = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| ProxyError::Credentials(error_chain(&e)))?;
        let fetched = Arc::new(SigningIdentity::new(fetched));
        self.current.store(Some(Arc::clone(&fetched)));
        Ok(fetched)
    }

    /// Keeps the cache fresh until the process ends.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let cache = Arc::clone(self);
        tokio::spawn(async move { cache.refresh_forever().await })
    }

    async fn refresh_forever(&self) {
        let mut backoff = RETRY_FLOOR;
        loop {
            tokio::time::sleep(self.until_refresh()).await;
            let result = {
                let _one_fetch = self.fetching.lock().await;
                self.fetch().await
            };
            match result {
                Ok(_) => {
                    backoff = RETRY_FLOOR;
                    tracing::debug!("credentials_refreshed");
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "credentials_refresh_failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_CEILING);
                }
            }
        }
    }

    fn until_refresh(&self) -> Duration {
        let Some(current) = self.current.load_full() else {
            return Duration::ZERO;
        };
        let Some(expiry) = current.expiry else {
            return STATIC_REFRESH;
        };
        let left = expiry.duration_since(SystemTime::now()).unwrap_or_default();
        left.saturating_sub(REFRESH_AHEAD.min(left * 3 / 4))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
