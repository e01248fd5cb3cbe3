//! The quote store against SQLite, and against PostgreSQL when
//! `QUOTECAST_TEST_POSTGRES` names a server to create throw-away
//! databases on (`.ci/run` starts one); each test on a fresh database.
#![allow(clippy::unwrap_used)]

mod common;

use common::{at, by, content, stores};
use quotecast_store::{ListQuotes, QuoteStatus, Store, StoreError};

#[tokio::test]
async fn every_save_is_a_version_read_back_whole() {
    for (store, _keep) in stores().await {
        let first = store
            .create(
                "acme-co",
                &by("rep@acme"),
                content("acme", "100.00"),
                at("2026-05-01T10:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!((first.number, first.version), (1, 1));
        assert_eq!(first.status, QuoteStatus::Draft);
        let other = store
            .create(
                "acme-co",
                &by("rep@acme"),
                content("globex", "5.00"),
                at("2026-05-01T10:01:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(other.number, 2);
        // Another tenant counts its own quotes.
        let elsewhere = store
            .create(
                "initech",
                &by("rep@initech"),
                content("x", "1.00"),
                at("2026-05-01T10:02:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(elsewhere.number, 1);
        let second = store
            .revise(
                "acme-co",
                1,
                1,
                &by("rep2@acme"),
                content("acme", "90.00"),
                at("2026-05-02T09:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(second.version, 2);
        assert_eq!(store.get("acme-co", 1, None).await.unwrap(), second);
        assert_eq!(store.get("acme-co", 1, Some(1)).await.unwrap(), first);
        assert_eq!(store.get("initech", 1, None).await.unwrap(), elsewhere);
        // A change from a version that is no longer the latest.
        let stale = store
            .revise(
                "acme-co",
                1,
                1,
                &by("rep@acme"),
                content("acme", "80.00"),
                at("2026-05-02T09:30:00Z"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                stale,
                StoreError::Stale {
                    base: 1,
                    current: 2,
                    ..
                }
            ),
            "{stale:?}"
        );
        assert_eq!(store.get("acme-co", 1, None).await.unwrap(), second);
        for missing in [
            store.get("acme-co", 9, None).await,
            store.get("acme-co", 1, Some(3)).await,
        ] {
            assert!(
                matches!(missing, Err(StoreError::NotFound { .. })),
                "{missing:?}"
            );
        }
        let gone = store
            .revise(
                "acme-co",
                9,
                1,
                &by("rep@acme"),
                content("acme", "1.00"),
                at("2026-05-02T09:30:00Z"),
            )
            .await;
        assert!(matches!(gone, Err(StoreError::NotFound { .. })), "{gone:?}");
    }
}

#[tokio::test]
async fn of_concurrent_revisions_exactly_one_wins_each_round() {
    for (store, _keep) in stores().await {
        let quote = store
            .create(
                "t",
                &by("rep"),
                content("acme", "0.00"),
                at("2026-05-01T10:00:00Z"),
            )
            .await
            .unwrap();
        for (round, version) in (quote.version..quote.version + 5).enumerate() {
            let tasks: Vec<_> = (0..12)
                .map(|writer| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .revise(
                                "t",
                                quote.number,
                                version,
                                &by(&format!("writer-{writer}")),
                                content("acme", &format!("{round}.{writer:02}")),
                                at("2026-05-02T10:00:00Z"),
                            )
                            .await
                    })
                })
                .collect();
            // New quotes saved at the same moment (on SQLite, committed in
            // the same group as the refused revisions) are all stored.
            let creates: Vec<_> = (0..3)
                .map(|k| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .create(
                                "t",
                                &by("other"),
                                content("globex", &format!("{k}.00")),
                                at("2026-05-02T10:00:00Z"),
                            )
                            .await
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for created in creates {
                let created = created.await.unwrap().unwrap();
                assert_eq!(store.get("t", created.number, None).await.unwrap(), created);
            }
            for task in tasks {
                match task.await.unwrap() {
                    Ok(saved) => winners.push(saved),
                    Err(StoreError::Stale { current, .. }) => assert_eq!(current, version + 1),
                    Err(other) => panic!("{other:?}"),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}");
            // A refused revision is a write of its batch, not a failed
            // batch: the others in the batch were stored.
            let stats = store.write_stats();
            assert_eq!(
                (stats.writes, stats.failed_batches),
                (1 + 15 * (round as u64 + 1), 0),
                "{stats:?}"
            );
            // What is stored is the winner's change, nobody else's.
            assert_eq!(
                store.get("t", quote.number, None).await.unwrap(),
                winners[0]
            );
        }
    }
}

#[tokio::test]
async fn lists_filter_and_page_by_number() {
    for (store, _keep) in stores().await {
        for i in 0..7 {
            let account = if i % 2 == 0 { "acme" } else { "globex" };
            store
                .create(
                    "t",
                    &by("rep"),
                    content(account, &format!("{i}.00")),
                    at("2026-05-01T10:00:00Z"),
                )
                .await
                .unwrap();
        }
        let page = |after, account: Option<&str>, newest_first| ListQuotes {
            tenant: "t".into(),
            account: account.map(str::to_owned),
            status: None,
            after,
            newest_first,
            limit: 3,
        };
        let numbers = |quotes: Vec<quotecast_store::QuoteSummary>| {
            quotes.into_iter().map(|q| q.number).collect::<Vec<_>>()
        };
        assert_eq!(
            numbers(store.list(&page(None, None, false)).await.unwrap()),
            [1, 2, 3]
        );
        assert_eq!(
            numbers(store.list(&page(Some(3), None, false)).await.unwrap()),
            [4, 5, 6]
        );
        assert_eq!(
            numbers(store.list(&page(Some(6), None, false)).await.unwrap()),
            [7]
        );
        assert_eq!(
            numbers(store.list(&page(None, None, true)).await.unwrap()),
            [7, 6, 5]
        );
        assert_eq!(
            numbers(store.list(&page(Some(5), None, true)).await.unwrap()),
            [4, 3, 2]
        );
        assert_eq!(
            numbers(
                store
                    .list(&page(None, Some("globex"), false))
                    .await
                    .unwrap()
            ),
            [2, 4, 6]
        );
        let drafts = ListQuotes {
            status: Some(QuoteStatus::Sent),
            ..page(None, None, false)
        };
        assert!(store.list(&drafts).await.unwrap().is_empty());
        let other_tenant = ListQuotes {
            tenant: "u".into(),
            ..page(None, None, false)
        };
        assert!(store.list(&other_tenant).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_reopened_database_keeps_every_version_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).await.unwrap();
    let saved = store
        .create(
            "t",
            &by("rep"),
            content("acme", "1.00"),
            at("2026-05-01T10:00:00Z"),
        )
        .await
        .unwrap();
    store.close().await;
    let again = Store::open_in(dir.path()).await.unwrap();
    assert_eq!(again.get("t", saved.number, None).await.unwrap(), saved);
    // A later build's schema.
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    again.close().await;
    let mut conn = sqlx::AnyConnection::connect(&quotecast_store::sqlite_url(dir.path()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO quotecast_schema (version) VALUES (99)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let refused = Store::open_in(dir.path()).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::NewerSchema { found: 99, .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("newer than this build knows"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_from_many_tasks_take_every_number_once_per_tenant_and_chain_the_audit() {
    for (store, _keep) in stores().await {
        // 300 saves at once over two tenants: the writer commits them in
        // groups, many rows to a statement.
        let tasks: Vec<_> = (0..300)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let tenant = if i % 3 == 0 { "initech" } else { "acme-co" };
                    let total = format!("{i}.00");
                    let saved = store
                        .create(
                            tenant,
                            &by("rep@acme"),
                            content("acme", &total),
                            at("2026-05-01T10:00:00Z"),
                        )
                        .await
                        .unwrap();
                    (tenant, saved.number, total)
                })
            })
            .collect();
        let mut numbers: Vec<(&str, i64, String)> = Vec::new();
        for task in tasks {
            numbers.push(task.await.unwrap());
        }
        for (tenant, count) in [("acme-co", 200), ("initech", 100)] {
            let mut taken: Vec<i64> = numbers
                .iter()
                .filter(|(t, _, _)| *t == tenant)
                .map(|(_, n, _)| *n)
                .collect();
            taken.sort_unstable();
            assert_eq!(taken, (1..=count).collect::<Vec<i64>>(), "{tenant}");
        }
        // Each number holds the save that was told it.
        for (tenant, number, total) in &numbers {
            let read = store.get(tenant, *number, None).await.unwrap();
            assert_eq!(&read.content.total, total);
        }
        // The writer's counts say what it did: every save written once,
        // in fewer commits than saves (300 waiting together share them),
        // none failed.
        let stats = store.write_stats();
        assert_eq!((stats.writes, stats.failed_batches), (300, 0), "{stats:?}");
        assert!(
            (1..300).contains(&stats.batches) && stats.commit_seconds > 0.0,
            "{stats:?}"
        );
        let audit = store.verify_audit().await.unwrap();
        assert_eq!((audit.entries, audit.broken), (300, None));
        let entries = store.audit_entries(None, 0, 1000).await.unwrap();
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=300).collect::<Vec<i64>>());
    }
}

#[tokio::test]
async fn a_group_commit_that_fails_stores_nothing_and_the_next_one_is_whole() {
    for db in common::databases().await {
        let (store, postgres) = (&db.store, db.dir.is_none());
        let good = store
            .create(
                "acme-co",
                &by("rep@acme"),
                content("acme", "1.00"),
                at("2026-05-01T10:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(good.number, 1);
        // The database refuses quotes of account `refused` (as a full disk
        // or a constraint would), behind the store's back.
        let mut raw = common::raw(&db.url).await;
        let trigger = if postgres {
            vec![
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN \
                 IF NEW.account = 'refused' THEN RAISE EXCEPTION 'refused'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse BEFORE INSERT ON quote_versions \
                 FOR EACH ROW EXECUTE FUNCTION refuse()",
            ]
        } else {
            vec![
                "CREATE TRIGGER refuse BEFORE INSERT ON quote_versions \
                 WHEN NEW.account = 'refused' BEGIN SELECT RAISE(ABORT, 'refused'); END",
            ]
        };
        for sql in trigger {
            sqlx::query(sql).execute(&mut raw).await.unwrap();
        }
        let refused = store
            .create(
                "acme-co",
                &by("rep@acme"),
                content("refused", "2.00"),
                at("2026-05-01T10:01:00Z"),
            )
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Database(_)), "{refused:?}");
        // Nothing of it stayed: not its number, not its audit entry; the
        // next save takes number 2 and the chain still verifies.
        let next = store
            .create(
                "acme-co",
                &by("rep@acme"),
                content("acme", "3.00"),
                at("2026-05-01T10:02:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(next.number, 2);
        assert!(matches!(
            store.get("acme-co", 3, None).await,
            Err(StoreError::NotFound { .. })
        ));
        let audit = store.verify_audit().await.unwrap();
        assert_eq!((audit.entries, audit.broken), (2, None));
        assert_eq!(store.write_stats().failed_batches, 1);
    }
}
