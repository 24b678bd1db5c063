//! Shared by the store tests: moto's server (DynamoDB-compatible, started
//! once per test binary by `scripts/moto.sh`), a TCP proxy that injects
//! faults, stores of either backend, and raw data to check sums against.

#![allow(dead_code)]

pub mod fault_proxy;
pub mod gate;
pub mod inspect;
pub mod raw;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use bedrock_tuner::store::{
    BackendConfig, DynamoConfig, DynamoStore, EmbeddedStore, Store, StoreConfig, StoreError,
};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    DynamoDb,
}

/// Writes the same suite once and runs it on both backends: each listed
/// `async fn name(backend: Backend)` becomes `embedded::name` and
/// `dynamodb::name`.
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::store_support::Backend::Embedded).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::store_support::Backend::DynamoDb).await;
                }
            )*
        }
    };
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The moto server of this test binary, behind the [`gate`] that makes
/// each request atomic. It stops when the binary exits: `moto.sh` watches
/// the pipe this process holds.
pub struct Moto {
    /// Where clients connect (the gate).
    pub port: u16,
    /// moto itself.
    pub server_port: u16,
    _watch: Child,
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start_moto)
}

fn start_moto() -> Moto {
    let port = free_port();
    let mut child = Command::new("bash")
        .arg(repo().join("scripts/moto.sh"))
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run scripts/moto.sh: {e}"));
    // Generous: moto.sh may first have to install moto.
    let deadline = Instant::now() + Duration::from_secs(300);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("scripts/moto.sh exited ({status}) before moto answered on port {port}");
        }
        assert!(
            Instant::now() < deadline,
            "moto did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        port: gate::start(port),
        server_port: port,
        _watch: child,
    }
}

/// A free loopback port (bound, then released for a child to take).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Store settings for tests: 4 shards, and a call timeout long enough for
/// moto, which takes up to 50 ms per session update and, behind the gate,
/// serves the tests of a binary one request at a time.
pub fn test_config(backend: BackendConfig) -> StoreConfig {
    StoreConfig {
        backend,
        shards: 4,
        timeout: Duration::from_secs(10),
        ..StoreConfig::default()
    }
}

/// Static credentials and a region: moto accepts any.
pub fn sdk_config() -> SdkConfig {
    let credentials = Credentials::new("AKIDTEST", "secret", None, None, "tests");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

/// One store under test, with what is needed to open it again as another
/// sidecar would.
pub struct Fixture {
    pub backend: Backend,
    pub config: StoreConfig,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    /// A fresh, initialised store: a new SQLite file, or new tables under a
    /// unique prefix in this binary's moto.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Embedded => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                let path = dir.path().join("store.sqlite");
                let config = test_config(BackendConfig::Embedded { path });
                Self::with_config(backend, config, Some(dir)).await
            }
            Backend::DynamoDb => {
                let endpoint = format!("http://127.0.0.1:{}", moto().port);
                let config = test_config(BackendConfig::DynamoDb(dynamo_config(&endpoint)));
                Self::with_config(backend, config, None).await
            }
        }
    }

    async fn with_config(
        backend: Backend,
        config: StoreConfig,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let store = open(&config).await.unwrap_or_else(|e| panic!("open: {e}"));
        store.init().await.unwrap_or_else(|e| panic!("init: {e}"));
        Self {
            backend,
            config,
            store,
            _dir: dir,
        }
    }

    /// The same store opened again, as by another sidecar.
    pub async fn open_again(&self) -> Result<Store, StoreError> {
        open(&self.config).await
    }
}

/// Unique table names per test, so that tests share one moto.
pub fn dynamo_config(endpoint: &str) -> DynamoConfig {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    DynamoConfig {
        table_prefix: format!("t{}-{n}-", std::process::id()),
        endpoint_url: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
    }
}

/// Opens a store as the sidecar does, but with test credentials for
/// DynamoDB.
pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
    match &config.backend {
        BackendConfig::Embedded { path } => {
            Ok(Store::Embedded(EmbeddedStore::open(path, config).await?))
        }
        BackendConfig::DynamoDb(dynamo) => Ok(Store::DynamoDb(DynamoStore::from_sdk_config(
            &sdk_config(),
            dynamo,
            config,
        ))),
    }
}

/// Unwraps a test step with its context.
pub fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}
