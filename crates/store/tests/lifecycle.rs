//! Status changes, the expiry sweep and the audit chain, against SQLite
//! and (when `QUOTECAST_TEST_POSTGRES` is set) PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use common::{at, by, content, databases, raw};
use quotecast_store::{Actor, QuoteStatus, StatusChange, Store, StoreError};
use sqlx::Connection;

fn change(number: i64, base: i64, to: QuoteStatus, action: &str, who: &Actor) -> StatusChange {
    StatusChange {
        tenant: "t".into(),
        number,
        base,
        to,
        action: action.into(),
        by: who.clone(),
        comment: format!("{action} by {}", who.name),
        now: at("2026-05-03T09:30:00Z"),
        decisions: Vec::new(),
        order_lines: Vec::new(),
    }
}

#[tokio::test]
async fn status_moves_only_along_legal_paths_each_a_version_of_the_same_content() {
    for db in databases().await {
        let store = &db.store;
        let rep = by("rep@acme");
        let boss = Actor::new("boss@acme", "approver");
        let saved = store
            .create(
                "t",
                &rep,
                content("acme", "100.00"),
                at("2026-05-01T10:00:00Z"),
            )
            .await
            .unwrap();
        let n = saved.number;
        // From a version that is not the current one: refused, nothing kept.
        let stale = store
            .change_status(change(n, 2, QuoteStatus::PendingApproval, "submit", &rep))
            .await
            .unwrap_err();
        assert!(
            matches!(stale, StoreError::Stale { current: 1, .. }),
            "{stale:?}"
        );
        // A draft cannot be approved before it is submitted.
        let illegal = store
            .change_status(change(n, 1, QuoteStatus::Approved, "approve", &boss))
            .await
            .unwrap_err();
        assert!(
            matches!(
                illegal,
                StoreError::IllegalTransition {
                    from: QuoteStatus::Draft,
                    to: QuoteStatus::Approved,
                    ..
                }
            ),
            "{illegal:?}"
        );
        let path = [
            (QuoteStatus::PendingApproval, "submit", &rep),
            (QuoteStatus::Draft, "recall", &rep),
            (QuoteStatus::PendingApproval, "submit", &rep),
            (QuoteStatus::Approved, "approve", &boss),
            (QuoteStatus::Sent, "send", &rep),
            // The customer's signature is entered by someone else.
            (QuoteStatus::Accepted, "accept", &boss),
        ];
        for (i, (to, action, who)) in path.into_iter().enumerate() {
            let base = i as i64 + 1;
            let changed = store
                .change_status(change(n, base, to, action, who))
                .await
                .unwrap();
            assert_eq!((changed.version, changed.status), (base + 1, to));
            let version = store.get("t", n, Some(base + 1)).await.unwrap();
            assert_eq!(version.status, to);
            assert_eq!(version.action, action);
            assert_eq!(version.saved_by, who.name);
            assert_eq!(version.comment, format!("{action} by {}", who.name));
            // The figures are those that were saved, byte for byte.
            assert_eq!(version.content, saved.content);
        }
        // The acceptance wrote the won order from the version accepted; it
        // is never changed.
        let orders = store
            .list_orders(&quotecast_store::ListOrdersQuery {
                tenant: "t".into(),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(orders.len(), 1);
        assert_eq!((orders[0].number, orders[0].quote_version), (n, 6));
        assert_eq!(orders[0].priced, saved.content.priced);
        assert_eq!(orders[0].accepted_by, "boss@acme");
        // The deal stays the rep's who made the quote.
        assert_eq!(orders[0].owner, "rep@acme");
        let mut conn = raw(&db.url).await;
        let refused = sqlx::query("UPDATE orders SET total = '1.00'")
            .execute(&mut conn)
            .await;
        assert!(refused.is_err(), "a won order was changed");
        conn.close().await.unwrap();
        // Closed: no edit and no further move.
        let edit = store
            .revise(
                "t",
                n,
                7,
                &rep,
                content("acme", "90.00"),
                at("2026-05-04T00:00:00Z"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(edit, StoreError::IllegalTransition { .. }),
            "{edit:?}"
        );
        assert_eq!(store.get("t", n, None).await.unwrap().version, 7);
        // Every earlier version still reads back in the status it had.
        assert_eq!(
            store.get("t", n, Some(2)).await.unwrap().status,
            QuoteStatus::PendingApproval
        );
        let check = store.verify_audit().await.unwrap();
        assert_eq!((check.entries, check.broken), (7, None));
    }
}

#[tokio::test]
async fn of_concurrent_status_changes_and_edits_exactly_one_wins_each_round() {
    for db in databases().await {
        let store = &db.store;
        let rep = by("rep");
        let saved = store
            .create(
                "t",
                &rep,
                content("acme", "1.00"),
                at("2026-05-01T10:00:00Z"),
            )
            .await
            .unwrap();
        let mut version = saved.version;
        for round in 0..6 {
            // Half the tasks submit, half edit, all from the same version.
            let tasks: Vec<_> = (0..8)
                .map(|k| {
                    let store = store.clone();
                    let rep = rep.clone();
                    tokio::spawn(async move {
                        if k % 2 == 0 {
                            store
                                .change_status(change(
                                    saved.number,
                                    version,
                                    QuoteStatus::PendingApproval,
                                    "submit",
                                    &rep,
                                ))
                                .await
                                .map(|c| c.version)
                        } else {
                            store
                                .revise(
                                    "t",
                                    saved.number,
                                    version,
                                    &rep,
                                    content("acme", &format!("{k}.00")),
                                    at("2026-05-02T10:00:00Z"),
                                )
                                .await
                                .map(|v| v.version)
                        }
                    })
                })
                .collect();
            let mut winners = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(v) => {
                        winners += 1;
                        assert_eq!(v, version + 1);
                    }
                    Err(StoreError::Stale { current, .. }) => assert_eq!(current, version + 1),
                    // A submit that lost may find the winner's pending quote.
                    Err(other) => panic!("round {round}: {other:?}"),
                }
            }
            assert_eq!(winners, 1, "round {round}");
            version += 1;
            // Back to draft for the next round, if a submit won.
            let now = store.get("t", saved.number, None).await.unwrap();
            if now.status == QuoteStatus::PendingApproval {
                store
                    .change_status(change(
                        saved.number,
                        version,
                        QuoteStatus::Draft,
                        "recall",
                        &rep,
                    ))
                    .await
                    .unwrap();
                version += 1;
            }
        }
        let check = store.verify_audit().await.unwrap();
        assert_eq!(check.broken, None);
        assert_eq!(check.entries as i64, version);
    }
}

#[tokio::test]
async fn the_sweep_expires_open_quotes_past_their_validity_and_nothing_else() {
    for db in databases().await {
        let store = &db.store;
        let rep = by("rep");
        let valid = |d| {
            let mut c = content("acme", "1.00");
            c.valid_until = NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
            c
        };
        let t0 = at("2026-05-01T10:00:00Z");
        // 1: draft, lapsed; 2: pending, lapsed; 3: draft, valid to the
        // sweep's day; 4: accepted, lapsed; 5: another tenant's, lapsed.
        let q1 = store.create("t", &rep, valid(10), t0).await.unwrap();
        let q2 = store.create("t", &rep, valid(11), t0).await.unwrap();
        let q3 = store.create("t", &rep, valid(20), t0).await.unwrap();
        let q4 = store.create("t", &rep, valid(1), t0).await.unwrap();
        let q5 = store.create("u", &rep, valid(1), t0).await.unwrap();
        store
            .change_status(change(
                q2.number,
                1,
                QuoteStatus::PendingApproval,
                "submit",
                &rep,
            ))
            .await
            .unwrap();
        for (base, to, action) in [
            (1, QuoteStatus::Sent, "send"),
            (2, QuoteStatus::Accepted, "accept"),
        ] {
            store
                .change_status(change(q4.number, base, to, action, &rep))
                .await
                .unwrap();
        }
        let system = Actor::new("expiry sweep", "system");
        let today = NaiveDate::from_ymd_opt(2026, 6, 20).unwrap();
        let swept = store
            .expire_due(today, &system, at("2026-06-20T00:05:00Z"))
            .await
            .unwrap();
        let mut expired: Vec<(String, i64)> = swept
            .iter()
            .map(|e| (e.tenant.clone(), e.changed.number))
            .collect();
        expired.sort();
        assert_eq!(
            expired,
            [
                ("t".to_owned(), q1.number),
                ("t".to_owned(), q2.number),
                ("u".to_owned(), q5.number)
            ]
        );
        for (tenant, number) in &expired {
            let q = store.get(tenant, *number, None).await.unwrap();
            assert_eq!(
                (q.status, q.action.as_str()),
                (QuoteStatus::Expired, "expire")
            );
            assert_eq!(q.saved_by, "expiry sweep");
        }
        assert_eq!(
            store.get("t", q3.number, None).await.unwrap().status,
            QuoteStatus::Draft
        );
        assert_eq!(
            store.get("t", q4.number, None).await.unwrap().status,
            QuoteStatus::Accepted
        );
        // A second sweep finds nothing more to do.
        assert!(
            store
                .expire_due(today, &system, at("2026-06-20T01:05:00Z"))
                .await
                .unwrap()
                .is_empty()
        );
        let entries = store.audit_entries(Some("u"), 0, 100).await.unwrap();
        let actions: Vec<_> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["save", "expire"]);
        assert_eq!(entries[1].role, "system");
    }
}

/// Changes one entry's detail behind the store's back, as someone with the
/// database's credentials could after dropping the guard.
async fn tamper(url: &str, postgres: bool, seq: i64) {
    let mut conn = raw(url).await;
    let update = "UPDATE audit_log SET detail = '{\"total\":\"1.00\"}' WHERE seq = $1";
    // The guard refuses first.
    let refused = sqlx::query(update).bind(seq).execute(&mut conn).await;
    assert!(refused.is_err(), "the audit log took an update");
    let refused = sqlx::query("DELETE FROM audit_log")
        .execute(&mut conn)
        .await;
    assert!(refused.is_err(), "the audit log took a delete");
    let drop = if postgres {
        "DROP TRIGGER audit_log_is_append_only ON audit_log"
    } else {
        "DROP TRIGGER audit_log_is_append_only_update"
    };
    sqlx::query(drop).execute(&mut conn).await.unwrap();
    sqlx::query(update)
        .bind(seq)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn the_audit_log_refuses_changes_and_verify_names_the_first_tampered_entry() {
    for db in databases().await {
        let store = &db.store;
        let rep = by("rep");
        for i in 0..4 {
            let q = store
                .create(
                    "t",
                    &rep,
                    content("acme", &format!("{i}.00")),
                    at("2026-05-01T10:00:00Z"),
                )
                .await
                .unwrap();
            store
                .change_status(change(
                    q.number,
                    1,
                    QuoteStatus::PendingApproval,
                    "submit",
                    &rep,
                ))
                .await
                .unwrap();
        }
        let check = store.verify_audit().await.unwrap();
        assert_eq!((check.entries, check.broken.clone()), (8, None));
        let entries = store.audit_entries(None, 0, 100).await.unwrap();
        assert!(entries.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        assert_eq!(entries[4].action, "save");
        assert!(entries[4].detail.contains("\"total\":\"2.00\""));
        tamper(&db.url, db.dir.is_none(), 5).await;
        let check = store.verify_audit().await.unwrap();
        let (seq, why) = check.broken.unwrap();
        assert_eq!(seq, 5);
        assert!(why.contains("changed"), "{why}");
    }
}

#[tokio::test]
async fn a_database_of_the_first_schema_is_brought_up_to_date_with_its_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let url = quotecast_store::sqlite_url(dir.path());
    let mut conn = raw(&format!("{url}?mode=rwc")).await;
    use sqlx::Executor;
    conn.execute(include_str!("../migrations/sqlite/0001_quotes.sql"))
        .await
        .unwrap();
    conn.execute(
        "CREATE TABLE quotecast_schema (version BIGINT NOT NULL); \
         INSERT INTO quotecast_schema VALUES (1); \
         INSERT INTO quote_numbers VALUES ('t', 1); \
         INSERT INTO quotes VALUES ('t', 1, 'acme', 'draft', 1, 'USD', '5.00', '2026-12-31', \
           '2026-05-01T10:00:00.000000Z', '2026-05-01T10:00:00.000000Z'); \
         INSERT INTO quote_versions VALUES ('t', 1, 1, 'draft', 'acme', 'USD', '5.00', 'rules-1', \
           'rep', '2026-05-01T10:00:00.000000Z', '2026-12-31', x'0102', x'0304')",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();
    let store = Store::open(&url).await.unwrap();
    let old = store.get("t", 1, None).await.unwrap();
    assert_eq!(
        (old.action.as_str(), old.content.request.as_slice()),
        ("save", &[1u8, 2][..])
    );
    let changed = store
        .change_status(change(
            1,
            1,
            QuoteStatus::PendingApproval,
            "submit",
            &by("rep"),
        ))
        .await
        .unwrap();
    assert_eq!(changed.version, 2);
    let next = store
        .create(
            "t",
            &by("rep"),
            content("acme", "1.00"),
            at("2026-05-02T10:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(next.number, 2);
    assert_eq!(store.verify_audit().await.unwrap().broken, None);
}

#[tokio::test]
async fn decisions_and_delegations_are_kept_with_their_round_and_dates() {
    use quotecast_store::{Delegation, NewDecision};
    for db in databases().await {
        let store = &db.store;
        let rep = by("rep");
        let mia = Actor::new("mia", "approver");
        let q = store
            .create(
                "t",
                &rep,
                content("acme", "1.00"),
                at("2026-05-01T10:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(store.round("t", q.number).await.unwrap(), None);
        store
            .change_status(change(
                q.number,
                1,
                QuoteStatus::PendingApproval,
                "submit",
                &rep,
            ))
            .await
            .unwrap();
        let (round, _) = store.round("t", q.number).await.unwrap().unwrap();
        assert_eq!(round, 2);
        let decision = NewDecision {
            round,
            seat: "group:managers".into(),
            member: "mia".into(),
            approver: "mia".into(),
            role: "approver".into(),
            decision: "approve".into(),
            figures: r#"{"appr-manual-10":"12.00"}"#.into(),
            currency: "USD".into(),
            comment: "fine".into(),
        };
        // A decision that completes nothing keeps the quote pending.
        let mut step = change(q.number, 2, QuoteStatus::PendingApproval, "approve", &mia);
        step.decisions = vec![decision.clone()];
        let changed = store.change_status(step.clone()).await.unwrap();
        assert_eq!(
            (changed.version, changed.status),
            (3, QuoteStatus::PendingApproval)
        );
        // Without a decision, pending → pending is no move at all.
        let mut empty = change(q.number, 3, QuoteStatus::PendingApproval, "approve", &mia);
        empty.decisions.clear();
        assert!(matches!(
            store.change_status(empty).await.unwrap_err(),
            StoreError::IllegalTransition { .. }
        ));
        let stored = store.decisions("t", q.number).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].version, &stored[0].decision), (3, &decision));
        // Mia hands her approvals to Ben for a week.
        let day = |d| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
        let week = Delegation {
            tenant: "t".into(),
            from: "mia".into(),
            to: "ben".into(),
            starts: day(4),
            ends: day(10),
        };
        store
            .delegate(&week, &mia, at("2026-05-03T12:00:00Z"))
            .await
            .unwrap();
        for (d, expect) in [(3, 0), (4, 1), (10, 1), (11, 0)] {
            assert_eq!(
                store
                    .delegations_to("t", "ben", day(d))
                    .await
                    .unwrap()
                    .len(),
                expect,
                "day {d}"
            );
        }
        assert!(
            store
                .delegations_to("u", "ben", day(5))
                .await
                .unwrap()
                .is_empty()
        );
        let check = store.verify_audit().await.unwrap();
        assert_eq!((check.entries, check.broken), (4, None));
        let actions: Vec<String> = store
            .audit_entries(None, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["save", "submit", "approve", "delegate"]);
    }
}
