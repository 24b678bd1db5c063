//! Versioned documents, the decision log and the schema rule: one suite,
//! run on the embedded backend and on DynamoDB (moto).

#[macro_use]
mod store_support;

use bedrock_tuner::store::{Kind, PageRequest, Store, StoreError};
use serde_json::json;
use store_support::{Backend, Fixture, ok};

per_backend!(
    puts_need_the_latest_revision,
    racing_puts_have_exactly_one_winner,
    rollback_puts_an_old_body_as_a_new_revision,
    listings_follow_every_page,
    decision_log_keeps_append_order,
    bad_input_is_refused_not_stored,
);

async fn puts_need_the_latest_revision(backend: Backend) {
    let f = Fixture::new(backend).await;
    let s = &f.store;
    let body = json!({"temperature": 0.2, "future_field": {"kept": true}});
    assert_eq!(
        ok(
            s.put(Kind::Profile, "orders", &body, 0, "ana").await,
            "put 1"
        ),
        1
    );
    assert_eq!(
        s.put(Kind::Profile, "orders", &body, 0, "bo").await,
        Err(StoreError::Conflict { current: 1 })
    );
    let second = json!({"temperature": 0.7});
    assert_eq!(
        ok(
            s.put(Kind::Profile, "orders", &second, 1, "bo").await,
            "put 2"
        ),
        2
    );
    assert_eq!(
        s.put(Kind::Profile, "orders", &second, 1, "cy").await,
        Err(StoreError::Conflict { current: 2 })
    );
    assert_eq!(
        s.put(Kind::Profile, "nothing", &second, 3, "cy").await,
        Err(StoreError::Conflict { current: 0 })
    );
    check_history(s, &body, &second).await;
    // Kinds are separate namespaces.
    assert_eq!(
        ok(s.latest(Kind::Experiment, "orders").await, "other kind"),
        None
    );
}

/// Revision 2 by bo is the latest; revision 1 keeps its body whole.
async fn check_history(s: &Store, first_body: &serde_json::Value, second: &serde_json::Value) {
    let latest = ok(s.latest(Kind::Profile, "orders").await, "latest");
    let latest = latest.unwrap_or_else(|| panic!("no latest"));
    assert_eq!(latest.revision, 2);
    assert_eq!((&latest.body, latest.updated_by.as_str()), (second, "bo"));
    let first = ok(s.revision(Kind::Profile, "orders", 1).await, "revision 1");
    let first = first.map(|d| d.body);
    assert_eq!(
        first.as_ref(),
        Some(first_body),
        "unknown JSON fields are kept"
    );
    let page = PageRequest::first(10);
    let history = ok(s.history(Kind::Profile, "orders", &page).await, "history");
    let revisions: Vec<u64> = history.items.iter().map(|d| d.revision).collect();
    assert_eq!(revisions, [1, 2]);
}

/// Several sidecars (store instances) and tasks put from the same revision
/// at once. Whatever the interleaving, exactly one may win; the losers see
/// the winner's revision. Round two races from revision 1.
async fn racing_puts_have_exactly_one_winner(backend: Backend) {
    let f = Fixture::new(backend).await;
    let other = ok(f.open_again().await, "second instance");
    for (round, expected) in [(0u64, 0u64), (1, 1)] {
        let mut tasks = Vec::new();
        for writer in 0..6u64 {
            let store: Store = if writer % 2 == 0 {
                f.store.clone()
            } else {
                other.clone()
            };
            let body = json!({"round": round, "writer": writer});
            tasks.push(tokio::spawn(async move {
                let outcome = store
                    .put(Kind::Experiment, "exp-1", &body, expected, "racer")
                    .await;
                (writer, outcome)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (writer, outcome) = ok(task.await, "join");
            match outcome {
                Ok(revision) => winners.push((writer, revision)),
                Err(StoreError::Conflict { current }) => assert_eq!(current, expected + 1),
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let (winner, revision) = winners[0];
        assert_eq!(revision, expected + 1);
        let latest = ok(other.latest(Kind::Experiment, "exp-1").await, "latest");
        assert_eq!(
            latest.map(|d| d.body),
            Some(json!({"round": round, "writer": winner}))
        );
    }
}

async fn rollback_puts_an_old_body_as_a_new_revision(backend: Backend) {
    let f = Fixture::new(backend).await;
    let s = &f.store;
    for (i, t) in [0.1, 0.5, 0.9].iter().enumerate() {
        ok(
            s.put(Kind::Profile, "faq", &json!({"t": t}), i as u64, "ana")
                .await,
            "put",
        );
    }
    assert_eq!(
        ok(
            s.rollback(Kind::Profile, "faq", 1, 3, "ops").await,
            "rollback"
        ),
        4
    );
    let latest = ok(s.latest(Kind::Profile, "faq").await, "latest").map(|d| (d.revision, d.body));
    assert_eq!(latest, Some((4, json!({"t": 0.1}))));
    assert_eq!(
        s.rollback(Kind::Profile, "faq", 2, 3, "ops").await,
        Err(StoreError::Conflict { current: 4 })
    );
    assert!(matches!(
        s.rollback(Kind::Profile, "faq", 9, 4, "ops").await,
        Err(StoreError::NotFound(_))
    ));
}

/// Small pages, and a listing larger than DynamoDB's 1 MB page, must both
/// return every id exactly once with its latest revision.
async fn listings_follow_every_page(backend: Backend) {
    let f = Fixture::new(backend).await;
    let s = &f.store;
    for i in 0..23 {
        let id = format!("intent-{i:02}");
        ok(
            s.put(Kind::Profile, &id, &json!({"v": 1}), 0, "a").await,
            "put",
        );
        if i % 3 == 0 {
            ok(
                s.put(Kind::Profile, &id, &json!({"v": 2}), 1, "a").await,
                "put 2",
            );
        }
    }
    let mut seen = Vec::new();
    let mut request = PageRequest::first(5);
    loop {
        let page = ok(s.list_latest(Kind::Profile, &request).await, "page");
        assert!(page.items.len() <= 5);
        seen.extend(page.items.iter().map(|d| (d.id.clone(), d.revision)));
        match page.next {
            Some(token) => request = PageRequest::after(token, 5),
            None => break,
        }
    }
    let expected: Vec<(String, u64)> = (0..23)
        .map(|i| (format!("intent-{i:02}"), if i % 3 == 0 { 2 } else { 1 }))
        .collect();
    assert_eq!(seen, expected);
    // 14 bodies of 100 KB: 1.4 MB in one kind.
    let filler = "x".repeat(100_000);
    for i in 0..14 {
        let body = json!({"i": i, "filler": filler});
        ok(
            s.put(Kind::Experiment, &format!("big-{i:02}"), &body, 0, "a")
                .await,
            "big put",
        );
    }
    let all = ok(s.list_all_latest(Kind::Experiment).await, "list all");
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    let expected: Vec<String> = (0..14).map(|i| format!("big-{i:02}")).collect();
    assert_eq!(ids, expected);
}

async fn decision_log_keeps_append_order(backend: Backend) {
    let f = Fixture::new(backend).await;
    let other = ok(f.open_again().await, "second instance");
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = if i % 2 == 0 {
            f.store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let entry = json!({"who": format!("op{i}"), "what": "stop", "why": "srm", "when": i});
            store.append_decision("exp-9", &entry).await
        }));
    }
    let mut sequences = Vec::new();
    for task in tasks {
        sequences.push(ok(ok(task.await, "join"), "append"));
    }
    sequences.sort_unstable();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6]);
    let mut listed = Vec::new();
    let mut request = PageRequest::first(4);
    loop {
        let page = ok(f.store.decisions("exp-9", &request).await, "decisions");
        listed.extend(page.items.iter().map(|d| d.sequence));
        match page.next {
            Some(token) => request = PageRequest::after(token, 4),
            None => break,
        }
    }
    assert_eq!(listed, [1, 2, 3, 4, 5, 6]);
    let empty = ok(
        f.store.decisions("other", &PageRequest::first(4)).await,
        "empty",
    );
    assert!(empty.items.is_empty() && empty.next.is_none());
}

async fn bad_input_is_refused_not_stored(backend: Backend) {
    let f = Fixture::new(backend).await;
    let s = &f.store;
    let body = json!({"a": 1});
    assert!(matches!(
        s.put(Kind::Profile, "", &body, 0, "a").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.put(Kind::Profile, "x\n", &body, 0, "a").await,
        Err(StoreError::Invalid(_))
    ));
    let huge = json!({"f": "y".repeat(400_000)});
    assert!(matches!(
        s.put(Kind::Profile, "x", &huge, 0, "a").await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(ok(s.latest(Kind::Profile, "x").await, "latest"), None);
    assert_eq!(ok(s.schema_version().await, "schema"), 1);
}
