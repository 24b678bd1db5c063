//! The meta record: schema version and the number of counter shards ever
//! written, so that a reader configured with fewer shards still sums all.

use aws_sdk_dynamodb::types::ReturnValue;

use super::DynamoStore;
use super::attrs::{Placeholders, count, key, n};
use crate::store::{SCHEMA_VERSION, StoreError};

/// What the meta record says; zeros when it does not exist yet (tables
/// created by CloudFormation get one at the first write).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Meta {
    pub version: u64,
    pub shards: u32,
}

fn meta_key() -> super::attrs::Item {
    key("meta".into(), Some("schema".into()))
}

impl DynamoStore {
    /// Reads the meta record and refuses a newer layout.
    pub(super) async fn read_meta(&self) -> Result<Meta, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.documents)
            .set_key(Some(meta_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(Meta::default());
        };
        let meta = Meta {
            version: count(item, "version")?,
            shards: u32::try_from(count(item, "shards")?).unwrap_or(u32::MAX),
        };
        if meta.version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: meta.version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(meta)
    }

    /// Before this process's first write: records the schema version if
    /// none is, raises the recorded shard count to ours (never lowers it),
    /// and checks the version. Done once per process once it succeeds.
    pub(super) async fn prepare_writes(&self) -> Result<(), StoreError> {
        self.prepared
            .get_or_try_init(|| async {
                self.record_meta().await?;
                self.read_meta().await.map(|_| ())
            })
            .await
            .map(|_| ())
    }

    /// Writes the version (if absent) and raises the shard count.
    pub(super) async fn record_meta(&self) -> Result<(), StoreError> {
        let mut p = Placeholders::default();
        let (version, shards) = (p.name("version"), p.name("shards"));
        let (v, s) = (
            p.value(n(SCHEMA_VERSION)),
            p.value(n(u64::from(self.shards))),
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.documents)
            .set_key(Some(meta_key()))
            .update_expression(format!(
                "SET {version} = if_not_exists({version}, {v}), {shards} = {s}"
            ))
            .condition_expression(format!("attribute_not_exists({shards}) OR {shards} < {s}"))
            .set_expression_attribute_names(Some(p.names))
            .set_expression_attribute_values(Some(p.values))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The store already counts at least our shards.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::dynamo("UpdateItem", e)),
        }
    }

    pub(crate) async fn schema_version(&self) -> Result<u64, StoreError> {
        self.read_meta().await.map(|m| m.version)
    }
}
