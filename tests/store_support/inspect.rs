//! Looks inside a store as an operator (or a newer build) would: the
//! `sqlite3` view of the file, or the DynamoDB tables item by item.

use aws_sdk_dynamodb::types::AttributeValue;
use bedrock_tuner::store::{BackendConfig, Store};

use super::{Fixture, ok};

impl Fixture {
    fn sqlite(&self) -> rusqlite::Connection {
        let BackendConfig::Embedded { path } = &self.config.backend else {
            panic!("not embedded");
        };
        ok(rusqlite::Connection::open(path), "open sqlite")
    }

    fn dynamo(&self) -> (&aws_sdk_dynamodb::Client, String) {
        let Store::DynamoDb(store) = &self.store else {
            panic!("not dynamodb");
        };
        (store.client(), store.table_prefix().to_string())
    }

    async fn scan(&self, table: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let (client, prefix) = self.dynamo();
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = client
                .scan()
                .table_name(format!("{prefix}{table}"))
                .set_exclusive_start_key(start)
                .send()
                .await;
            let out = ok(out, "scan");
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                return items;
            }
        }
    }

    /// Stored counter rows (SQLite) or items (DynamoDB): what reading an
    /// experiment's results costs.
    pub async fn counter_items(&self) -> usize {
        match self.backend {
            super::Backend::Embedded => {
                let c = self.sqlite();
                let count = |table: &str| -> i64 {
                    ok(
                        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)),
                        "count",
                    )
                };
                (count("metric_totals") + count("phase_sessions")) as usize
            }
            super::Backend::DynamoDb => {
                let items = self.scan("results").await;
                items
                    .iter()
                    .filter(|i| matches!(i.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with("exp#")))
                    .count()
            }
        }
    }

    /// Writes what a newer build might add: extra columns or attributes on
    /// every stored record, and a kind of record this build does not know.
    pub async fn add_future_fields(&self) {
        match self.backend {
            super::Backend::Embedded => self.add_future_columns(),
            super::Backend::DynamoDb => self.add_future_attributes().await,
        }
    }

    fn add_future_columns(&self) {
        let c = self.sqlite();
        let tables = [
            "documents",
            "metric_totals",
            "phase_sessions",
            "decisions",
            "sessions",
        ];
        for table in tables {
            let sql = format!("ALTER TABLE {table} ADD COLUMN future_note TEXT DEFAULT 'v1.1'");
            ok(c.execute(&sql, []), "alter");
        }
        ok(
            c.execute("CREATE TABLE future_things (x TEXT)", []),
            "new table",
        );
    }

    async fn add_future_attributes(&self) {
        let (client, prefix) = self.dynamo();
        for table in ["documents", "results", "sessions"] {
            for mut item in self.scan(table).await {
                item.insert("future_note".into(), AttributeValue::S("v1.1".into()));
                let put = client.put_item().table_name(format!("{prefix}{table}"));
                ok(put.set_item(Some(item)).send().await, "put future item");
            }
        }
        let mut unknown = std::collections::HashMap::new();
        for (name, value) in [
            ("pk", "exp#0#exp-r"),
            ("sk", "z#future-kind"),
            ("variant", "a"),
        ] {
            unknown.insert(name.to_string(), AttributeValue::S(value.into()));
        }
        let put = client.put_item().table_name(format!("{prefix}results"));
        ok(put.set_item(Some(unknown)).send().await, "put unknown kind");
    }

    /// Records a schema version, as a newer build's `store init` would.
    pub async fn set_schema_version(&self, version: u64) {
        match self.backend {
            super::Backend::Embedded => {
                let c = self.sqlite();
                let sql = "UPDATE meta SET value = ?1 WHERE key = 'schema_version'";
                ok(c.execute(sql, [version.to_string()]), "set version");
            }
            super::Backend::DynamoDb => {
                let (client, prefix) = self.dynamo();
                let update = client
                    .update_item()
                    .table_name(format!("{prefix}documents"))
                    .key("pk", AttributeValue::S("meta".into()))
                    .key("sk", AttributeValue::S("schema".into()))
                    .update_expression("SET #v = :v")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":v", AttributeValue::N(version.to_string()));
                ok(update.send().await, "set version");
            }
        }
    }
}
