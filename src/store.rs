//! The experiment store: what every sidecar of a fleet must share.
//!
//! A sidecar alone can neither learn that an operator changed a profile
//! nor judge an experiment: the change is made once, for the fleet, and an
//! experiment's traffic is spread over every sidecar behind the load
//! balancer, one session's requests often over several of them. This
//! module keeps both kinds of state in one place that all of them read and
//! add to, without ever holding a lock across the fleet:
//!
//! - **versioned documents** ([`Document`]): profiles and experiments as
//!   JSON bodies the store does not interpret, each put a new revision
//!   under optimistic concurrency ([`StoreError::Conflict`]);
//! - **results** as sufficient statistics ([`ExperimentResults`]): counts,
//!   sums and sums of squares per (experiment, variant, metric), written
//!   by atomic increments in idempotent batches ([`Batch`]), so that
//!   reading an experiment costs the same after a thousand requests or a
//!   billion;
//! - **session totals**, kept in the store so that session-level sums stay
//!   exact when a session's requests reach several sidecars;
//! - the **decision log** of each experiment ([`Decision`]);
//! - a **schema version** ([`SCHEMA_VERSION`]).
//!
//! Two backends sit behind one interface, [`Store`]: an embedded SQLite
//! file (the default, for one sidecar or a shared volume) and DynamoDB
//! (for a fleet). `docs/store.md` describes the layouts, the exactly-once
//! design and what the tests prove.
//!
//! In a running sidecar, [`refresh`] republishes profiles and experiments
//! on an interval, and [`flush`] gathers result increments on the request
//! path and writes them in batches; both report to [`StoreHealth`].

mod batch;
mod config;
mod document;
mod dynamo;
mod embedded;
mod error;
pub mod flush;
mod health;
mod increments;
pub mod refresh;
mod results;

pub use batch::{Batch, BatchId, Contribution, MetricKey, SessionDelta, SessionKey};
pub use config::{
    BackendConfig, BackendKind, DynamoConfig, RawStoreConfig, StoreConfig, StoreConfigError,
};
pub use document::{Decision, Document, Kind, Page, PageRequest, PageToken};
pub use dynamo::DynamoStore;
pub use embedded::EmbeddedStore;
pub use error::StoreError;
pub use health::{ComponentHealth, HealthState, StoreHealth, StoreHealthReport};
pub use results::{ExperimentResults, MetricTotals, RequestSums, SessionSums, VariantResults};

use serde_json::Value;

/// Version of the stored layout this build writes and fully understands.
///
/// Additions (new attributes, columns, item kinds, JSON fields) keep the
/// version: readers ignore what they do not know and read what is missing
/// as zero or absent. A change an older sidecar would misread bumps it,
/// and a sidecar refuses a store newer than itself
/// ([`StoreError::SchemaTooNew`]) while always reading older ones.
pub const SCHEMA_VERSION: u64 = 1;

/// What `store init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// One line per table or file: its name and what was done to it.
    pub lines: Vec<String>,
    /// The schema version recorded in the store afterwards.
    pub schema_version: u64,
}

/// The store, on one of its backends. Cheap to clone: clones share one
/// connection (SQLite) or one client (DynamoDB).
#[derive(Clone)]
pub enum Store {
    Embedded(EmbeddedStore),
    DynamoDb(DynamoStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Embedded(s) => write!(f, "Store::Embedded({})", s.path().display()),
            Store::DynamoDb(s) => write!(f, "Store::DynamoDb({})", s.table_prefix()),
        }
    }
}

/// Calls the same method on whichever backend the store is.
macro_rules! dispatch {
    ($store:expr, $backend:ident => $call:expr) => {
        match $store {
            Store::Embedded($backend) => $call,
            Store::DynamoDb($backend) => $call,
        }
    };
}

impl Store {
    /// Opens the configured backend without talking to a remote store, so
    /// that a sidecar starts while the store is unreachable. The embedded
    /// file is created, with its schema, when missing.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        match &config.backend {
            BackendConfig::Embedded { path } => {
                Ok(Store::Embedded(EmbeddedStore::open(path, config).await?))
            }
            BackendConfig::DynamoDb(dynamo) => {
                Ok(Store::DynamoDb(DynamoStore::connect(dynamo, config).await))
            }
        }
    }

    /// Creates what the store needs (SQLite schema; DynamoDB tables with
    /// on-demand billing, TTL and point-in-time recovery) and records the
    /// schema version. Safe to run again.
    pub async fn init(&self) -> Result<InitReport, StoreError> {
        dispatch!(self, s => s.init().await)
    }

    /// The schema version recorded in the store (0 when none is yet).
    pub async fn schema_version(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.schema_version().await)
    }

    /// One page of the latest revision of every document of a kind, by id.
    pub async fn list_latest(
        &self,
        kind: Kind,
        page: &PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        dispatch!(self, s => s.list_latest(kind, page).await)
    }

    /// The latest revision of every document of a kind, following every
    /// page.
    pub async fn list_all_latest(&self, kind: Kind) -> Result<Vec<Document>, StoreError> {
        let mut all = Vec::new();
        let mut request = PageRequest::first(document::LIST_PAGE);
        loop {
            let page = self.list_latest(kind, &request).await?;
            all.extend(page.items);
            match page.next {
                Some(token) => request = PageRequest::after(token, document::LIST_PAGE),
                None => return Ok(all),
            }
        }
    }

    /// The latest revision of one document.
    pub async fn latest(&self, kind: Kind, id: &str) -> Result<Option<Document>, StoreError> {
        document::check_id(id)?;
        dispatch!(self, s => s.latest(kind, id).await)
    }

    /// One revision of one document.
    pub async fn revision(
        &self,
        kind: Kind,
        id: &str,
        revision: u64,
    ) -> Result<Option<Document>, StoreError> {
        document::check_id(id)?;
        dispatch!(self, s => s.revision(kind, id, revision).await)
    }

    /// One page of a document's revisions, oldest first.
    pub async fn history(
        &self,
        kind: Kind,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        document::check_id(id)?;
        dispatch!(self, s => s.history(kind, id, page).await)
    }

    /// Writes `body` as the next revision of a document, provided its
    /// latest revision is still `expected_revision` (0: it must not exist
    /// yet). Returns the new revision, or [`StoreError::Conflict`] with the
    /// current one: of two writers racing from the same revision, exactly
    /// one wins.
    pub async fn put(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        expected_revision: u64,
        author: &str,
    ) -> Result<u64, StoreError> {
        document::check_id(id)?;
        document::check_name("author", author)?;
        let text = document::encode_body(body)?;
        dispatch!(self, s => s.put(kind, id, &text, expected_revision, author).await)
    }

    /// Makes an earlier revision's body the latest again, as a new
    /// revision (history is never rewritten). Same concurrency rule as
    /// [`Store::put`].
    pub async fn rollback(
        &self,
        kind: Kind,
        id: &str,
        to_revision: u64,
        expected_revision: u64,
        author: &str,
    ) -> Result<u64, StoreError> {
        let earlier = self.revision(kind, id, to_revision).await?.ok_or_else(|| {
            StoreError::NotFound(format!("{} {id} revision {to_revision}", kind.as_str()))
        })?;
        self.put(kind, id, &earlier.body, expected_revision, author)
            .await
    }

    /// Adds one flush batch of result increments, exactly once: applying a
    /// batch id again (a retry after a lost reply) adds nothing. Returns
    /// whether the whole batch had already been applied.
    pub async fn apply(&self, batch: &Batch) -> Result<Applied, StoreError> {
        batch.validate()?;
        dispatch!(self, s => s.apply(batch).await)
    }

    /// Every result of one experiment, summed over shards and writers.
    pub async fn results(&self, experiment: &str) -> Result<ExperimentResults, StoreError> {
        document::check_id(experiment)?;
        dispatch!(self, s => s.results(experiment).await)
    }

    /// Appends an entry (who, what, why, when: JSON the caller shapes) to
    /// an experiment's decision log; returns its sequence number (1, 2, …).
    pub async fn append_decision(
        &self,
        experiment: &str,
        entry: &Value,
    ) -> Result<u64, StoreError> {
        document::check_id(experiment)?;
        let text = document::encode_body(entry)?;
        dispatch!(self, s => s.append_decision(experiment, &text).await)
    }

    /// One page of an experiment's decision log, in append order.
    pub async fn decisions(
        &self,
        experiment: &str,
        page: &PageRequest,
    ) -> Result<Page<Decision>, StoreError> {
        document::check_id(experiment)?;
        dispatch!(self, s => s.decisions(experiment, page).await)
    }
}

/// The outcome of [`Store::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Some or all of the batch was added now.
    Added,
    /// Every part of the batch had been added before: nothing changed.
    AlreadyApplied,
}
