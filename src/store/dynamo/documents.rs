//! Versioned documents and the decision log in the documents table.
//!
//! Each document has a head item (`pk = head#<kind>`, `sk = <id>`) holding
//! its latest revision, so one Query pages through the latest of every
//! id, and one immutable item per revision (`pk = doc#<kind>#<id>`,
//! `sk = rev#<revision, 20 digits>`). A put writes both in one
//! transaction whose head condition is the revision the writer read.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::DynamoStore;
use super::attrs::{Item, Placeholders, count, key, n, s, text};
use crate::store::document::{decode_body, now_ms};
use crate::store::{Decision, Document, Kind, Page, PageRequest, PageToken, StoreError};

/// Attempts at appending a decision while other writers append too.
const APPEND_ATTEMPTS: u32 = 20;

fn head_pk(kind: Kind) -> String {
    format!("head#{}", kind.as_str())
}

fn doc_pk(kind: Kind, id: &str) -> String {
    format!("doc#{}#{id}", kind.as_str())
}

fn rev_sk(revision: u64) -> String {
    format!("rev#{revision:020}")
}

fn decision_pk(experiment: &str) -> String {
    format!("decision#{experiment}")
}

impl DynamoStore {
    pub(crate) async fn list_latest(
        &self,
        kind: Kind,
        page: &PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        let (items, next) = self.query_page(head_pk(kind), page, true).await?;
        let docs = items
            .iter()
            .map(|i| read_document(kind, i))
            .collect::<Result<_, _>>()?;
        Ok(Page { items: docs, next })
    }

    pub(crate) async fn latest(
        &self,
        kind: Kind,
        id: &str,
    ) -> Result<Option<Document>, StoreError> {
        let item = self.get(key(head_pk(kind), Some(id.to_string()))).await?;
        item.map(|i| read_document(kind, &i)).transpose()
    }

    pub(crate) async fn revision(
        &self,
        kind: Kind,
        id: &str,
        revision: u64,
    ) -> Result<Option<Document>, StoreError> {
        let item = self
            .get(key(doc_pk(kind, id), Some(rev_sk(revision))))
            .await?;
        item.map(|i| read_document(kind, &i)).transpose()
    }

    pub(crate) async fn history(
        &self,
        kind: Kind,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        let (items, next) = self.query_page(doc_pk(kind, id), page, true).await?;
        let docs = items
            .iter()
            .map(|i| read_document(kind, i))
            .collect::<Result<_, _>>()?;
        Ok(Page { items: docs, next })
    }

    pub(crate) async fn put(
        &self,
        kind: Kind,
        id: &str,
        body: &str,
        expected: u64,
        author: &str,
    ) -> Result<u64, StoreError> {
        // A cheap read first: most conflicts end here without a
        // transaction (and without moto's whole-table rollback).
        let current = self.latest(kind, id).await?.map_or(0, |d| d.revision);
        if current != expected {
            return Err(StoreError::Conflict { current });
        }
        let next = expected.saturating_add(1);
        let mut item = Item::new();
        item.insert("id".into(), s(id));
        item.insert("revision".into(), n(next));
        item.insert("body".into(), s(body));
        item.insert("updated_at_ms".into(), n(now_ms()));
        item.insert("updated_by".into(), s(author));
        let head = self.head_put(kind, id, &item, expected)?;
        let revision = self.revision_put(kind, id, next, item)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(head)
            .transact_items(revision)
            .send()
            .await;
        match result {
            Ok(_) => Ok(next),
            Err(e) if is_cancelled(e.as_service_error()) => {
                let current = self.latest(kind, id).await?.map_or(0, |d| d.revision);
                Err(StoreError::Conflict { current })
            }
            Err(e) => Err(StoreError::dynamo("TransactWriteItems", e)),
        }
    }

    /// The head put, conditioned on the revision the writer read.
    fn head_put(
        &self,
        kind: Kind,
        id: &str,
        item: &Item,
        expected: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut full = item.clone();
        full.extend(key(head_pk(kind), Some(id.to_string())));
        let mut p = Placeholders::default();
        let condition = match expected {
            0 => "attribute_not_exists(pk)".to_string(),
            _ => format!("{} = {}", p.name("revision"), p.value(n(expected))),
        };
        let put = Put::builder()
            .table_name(&self.tables.documents)
            .set_item(Some(full))
            .condition_expression(condition)
            .set_expression_attribute_names((!p.names.is_empty()).then_some(p.names))
            .set_expression_attribute_values((!p.values.is_empty()).then_some(p.values))
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The immutable revision item; it must not exist yet.
    fn revision_put(
        &self,
        kind: Kind,
        id: &str,
        revision: u64,
        mut item: Item,
    ) -> Result<TransactWriteItem, StoreError> {
        item.extend(key(doc_pk(kind, id), Some(rev_sk(revision))));
        let put = Put::builder()
            .table_name(&self.tables.documents)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(crate) async fn append_decision(
        &self,
        experiment: &str,
        entry: &str,
    ) -> Result<u64, StoreError> {
        for _ in 0..APPEND_ATTEMPTS {
            let next = self.last_decision(experiment).await?.saturating_add(1);
            let mut item = key(decision_pk(experiment), Some(rev_sk(next)));
            item.insert("sequence".into(), n(next));
            item.insert("entry".into(), s(entry));
            item.insert("recorded_at_ms".into(), n(now_ms()));
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.documents)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match result {
                Ok(_) => return Ok(next),
                // Another writer took this sequence number: read again.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(StoreError::dynamo("PutItem", e)),
            }
        }
        Err(StoreError::Conflict {
            current: self.last_decision(experiment).await?,
        })
    }

    async fn last_decision(&self, experiment: &str) -> Result<u64, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.documents)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(decision_pk(experiment)))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", e))?;
        out.items().first().map_or(Ok(0), |i| count(i, "sequence"))
    }

    pub(crate) async fn decisions(
        &self,
        experiment: &str,
        page: &PageRequest,
    ) -> Result<Page<Decision>, StoreError> {
        let (items, next) = self.query_page(decision_pk(experiment), page, true).await?;
        let decisions = items
            .iter()
            .map(|i| {
                Ok(Decision {
                    experiment: experiment.to_string(),
                    sequence: count(i, "sequence")?,
                    entry: decode_body(text(i, "entry")?)?,
                    recorded_at_ms: count(i, "recorded_at_ms")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Page {
            items: decisions,
            next,
        })
    }

    /// One consistent GetItem in the documents table.
    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.documents)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        Ok(out.item)
    }

    /// One page of a partition in sort-key order. The page token is the
    /// last sort key read; DynamoDB may stop early at 1 MB, and then the
    /// page is short but still carries a token.
    async fn query_page(
        &self,
        pk: String,
        page: &PageRequest,
        forward: bool,
    ) -> Result<(Vec<Item>, Option<PageToken>), StoreError> {
        let start = page
            .after
            .as_ref()
            .map(|t| key(pk.clone(), Some(t.0.clone())));
        let out = self
            .client
            .query()
            .table_name(&self.tables.documents)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .set_exclusive_start_key(start)
            .scan_index_forward(forward)
            .limit(i32::try_from(page.clamped_limit()).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", e))?;
        let next = match out.last_evaluated_key() {
            Some(last) => Some(PageToken(text(last, "sk")?.to_string())),
            None => None,
        };
        Ok((out.items.unwrap_or_default(), next))
    }
}

fn read_document(kind: Kind, item: &Item) -> Result<Document, StoreError> {
    Ok(Document {
        kind,
        id: text(item, "id")?.to_string(),
        revision: count(item, "revision")?,
        body: decode_body(text(item, "body")?)?,
        updated_at_ms: count(item, "updated_at_ms")?,
        updated_by: text(item, "updated_by")?.to_string(),
    })
}

/// A transaction cancelled by one of its conditions.
fn is_cancelled(error: Option<&TransactWriteItemsError>) -> bool {
    matches!(
        error,
        Some(TransactWriteItemsError::TransactionCanceledException(c))
            if c.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
    )
}
