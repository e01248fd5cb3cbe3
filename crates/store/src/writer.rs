//! Group commit for SQLite: one task owns the writes, takes every save
//! waiting when it is free (up to [`MAX_BATCH`]) and commits them in one
//! transaction, so one fsync acknowledges them all. Each save runs under
//! its own savepoint: one that fails (a stale version) is rolled back
//! alone and the others still commit. Nothing is acknowledged before the
//! commit that holds it; a commit that fails fails every save in it.
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::{
    QuoteVersion, StoreError,
    quotes::{Save, apply},
};

/// Saves committed together at most.
pub(crate) const MAX_BATCH: usize = 256;
/// Saves waiting for the writer at most; more wait to be queued.
const QUEUE: usize = 4096;

pub(crate) type Reply = oneshot::Sender<Result<QuoteVersion, StoreError>>;

/// Hands saves to the writer task.
#[derive(Debug, Clone)]
pub(crate) struct Writer(mpsc::Sender<(Save, Reply)>);

impl Writer {
    /// Starts the writer task on the current runtime.
    pub(crate) fn start(pool: AnyPool) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, receiver));
        Self(sender)
    }

    pub(crate) async fn write(&self, save: Save) -> Result<QuoteVersion, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Database(sqlx::Error::PoolClosed);
        self.0.send((save, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(pool: AnyPool, mut saves: mpsc::Receiver<(Save, Reply)>) {
    while let Some(first) = saves.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match saves.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        commit(&pool, batch).await;
    }
}

/// Writes `batch` in one transaction and answers each save.
async fn commit(pool: &AnyPool, batch: Vec<(Save, Reply)>) {
    let mut results = Vec::with_capacity(batch.len());
    let outcome: Result<(), StoreError> = async {
        let mut tx = pool.begin().await?;
        for (save, reply) in batch {
            // A new quote writes nothing before the statements that could
            // fail, and fails only with the database; a revision may be
            // refused after it has read, so it gets a savepoint.
            let guarded = save.revise.is_some();
            if guarded {
                sqlx::query("SAVEPOINT save").execute(&mut *tx).await?;
            }
            let result = apply(&mut tx, save).await;
            if guarded {
                if result.is_err() {
                    sqlx::query("ROLLBACK TO SAVEPOINT save")
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("RELEASE SAVEPOINT save")
                    .execute(&mut *tx)
                    .await?;
            } else if let Err(error) = result {
                // The transaction may hold half of it: none of the batch
                // is stored.
                results.push((Err(error), reply));
                return Err(StoreError::Corrupt(
                    "a new quote could not be written".to_owned(),
                ));
            }
            results.push((result, reply));
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            for (result, reply) in results {
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            tracing::error!(%error, saves = results.len(), "a group commit failed: none stored");
            let message = error.to_string();
            for (result, reply) in results {
                // What failed on its own keeps its reason.
                let _ = reply.send(match result {
                    Err(own) => Err(own),
                    Ok(_) => Err(StoreError::Database(sqlx::Error::Protocol(message.clone()))),
                });
            }
        }
    }
}
