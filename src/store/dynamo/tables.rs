//! `store init` on DynamoDB: the three tables with on-demand billing, TTL
//! on `expires_at` where items expire, point-in-time recovery, and the
//! meta record. Every step checks first, so a second run changes nothing.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::DynamoStore;
use crate::store::{InitReport, SCHEMA_VERSION, StoreError};

/// The attribute DynamoDB's TTL deletes items by (epoch seconds).
pub(super) const TTL_ATTRIBUTE: &str = "expires_at";
/// How long `init` waits for a new table to become active.
const ACTIVE_POLLS: u32 = 120;
const ACTIVE_POLL_INTERVAL: Duration = Duration::from_millis(500);

struct TableSpec<'a> {
    name: &'a str,
    sort_key: bool,
    ttl: bool,
}

impl DynamoStore {
    pub(crate) async fn init(&self) -> Result<InitReport, StoreError> {
        let t = &self.tables;
        let specs = [
            TableSpec {
                name: &t.documents,
                sort_key: true,
                ttl: false,
            },
            TableSpec {
                name: &t.results,
                sort_key: true,
                ttl: true,
            },
            TableSpec {
                name: &t.sessions,
                sort_key: false,
                ttl: true,
            },
        ];
        let mut lines = Vec::new();
        for spec in &specs {
            lines.push(self.init_table(spec).await?);
        }
        self.record_meta().await?;
        let meta = self.read_meta().await?;
        lines.push(format!(
            "meta: schema version {} (this build {SCHEMA_VERSION}), {} shards",
            meta.version, meta.shards
        ));
        Ok(InitReport {
            lines,
            schema_version: meta.version,
        })
    }

    async fn init_table(&self, spec: &TableSpec<'_>) -> Result<String, StoreError> {
        let created = match self.table_status(spec.name).await? {
            Some(_) => false,
            None => {
                self.create_table(spec).await?;
                true
            }
        };
        self.wait_active(spec.name).await?;
        let mut done = vec![if created { "created" } else { "exists" }, "on-demand"];
        if spec.ttl {
            self.enable_ttl(spec.name).await?;
            done.push("TTL on expires_at");
        }
        self.enable_recovery(spec.name).await?;
        done.push("point-in-time recovery");
        Ok(format!("{}: {}", spec.name, done.join(", ")))
    }

    async fn table_status(&self, name: &str) -> Result<Option<TableStatus>, StoreError> {
        match self.client.describe_table().table_name(name).send().await {
            Ok(out) => Ok(out.table().and_then(|t| t.table_status()).cloned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::dynamo("DescribeTable", e)),
        }
    }

    async fn create_table(&self, spec: &TableSpec<'_>) -> Result<(), StoreError> {
        let mut request = self
            .client
            .create_table()
            .table_name(spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element("pk", KeyType::Hash)?)
            .attribute_definitions(string_attribute("pk")?);
        if spec.sort_key {
            request = request
                .key_schema(key_element("sk", KeyType::Range)?)
                .attribute_definitions(string_attribute("sk")?);
        }
        request
            .send()
            .await
            .map_err(|e| StoreError::dynamo("CreateTable", e))?;
        tracing::info!(table = spec.name, "store_table_created");
        Ok(())
    }

    async fn wait_active(&self, name: &str) -> Result<(), StoreError> {
        for _ in 0..ACTIVE_POLLS {
            if self.table_status(name).await? == Some(TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(ACTIVE_POLL_INTERVAL).await;
        }
        Err(StoreError::DynamoDb {
            operation: "DescribeTable",
            message: format!("{name} did not become active"),
        })
    }

    async fn enable_ttl(&self, name: &str) -> Result<(), StoreError> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("DescribeTimeToLive", e))?;
        let status = current
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateTimeToLive", e))?;
        Ok(())
    }

    async fn enable_recovery(&self, name: &str) -> Result<(), StoreError> {
        let spec = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.client
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(spec)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateContinuousBackups", e))?;
        Ok(())
    }
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}
