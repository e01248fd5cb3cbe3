//! Group commit: one task owns the writes, takes every save
//! waiting when it is free (up to [`MAX_BATCH`]) and commits them in one
//! transaction, so one fsync acknowledges them all. New quotes waiting
//! together are written together, many rows to a statement (on SQLite the
//! three tables' rows in one round trip); each revision or status change
//! runs under its own savepoint: one that fails (a stale version) is
//! rolled back alone and the others still commit. Nothing is acknowledged before the
//! commit that holds it; a commit that fails fails every save in it.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::{
    Backend, Changed, QuoteVersion, StatusChange, StoreError, audit,
    change::apply_change,
    quotes::{Save, apply, create_all},
};

/// Saves committed together at most.
pub(crate) const MAX_BATCH: usize = 256;
/// Saves waiting for the writer at most; more wait to be queued.
const QUEUE: usize = 4096;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write waiting for the writer, with where its answer goes.
#[derive(Debug)]
pub(crate) enum Op {
    Save(Save, Reply<QuoteVersion>),
    Change(StatusChange, Reply<Changed>),
}

/// An answer held until the commit decides it (held for one batch: its
/// size does not matter).
#[allow(clippy::large_enum_variant)]
enum Answer {
    Saved(Result<QuoteVersion, StoreError>, Reply<QuoteVersion>),
    Changed(Result<Changed, StoreError>, Reply<Changed>),
}

impl Answer {
    fn failed(&self) -> bool {
        match self {
            Answer::Saved(r, _) => r.is_err(),
            Answer::Changed(r, _) => r.is_err(),
        }
    }

    /// Sends the answer; when the commit failed, what succeeded in the
    /// transaction fails with it (what failed on its own keeps its reason).
    fn send(self, commit_failed: Option<&str>) {
        match self {
            Answer::Saved(r, reply) => {
                let _ = reply.send(match (r, commit_failed) {
                    (Ok(_), Some(m)) => Err(not_stored(m)),
                    (r, _) => r,
                });
            }
            Answer::Changed(r, reply) => {
                let _ = reply.send(match (r, commit_failed) {
                    (Ok(_), Some(m)) => Err(not_stored(m)),
                    (r, _) => r,
                });
            }
        }
    }
}

/// What the writer has done since the store opened: group commits, the
/// writes they held, and the time spent in them (from the first statement
/// to the commit's answer). Writes per batch show how well saves share a
/// flush; seconds per batch what a flush costs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteStats {
    pub batches: u64,
    pub writes: u64,
    /// Batches whose commit failed (none of their writes stored).
    pub failed_batches: u64,
    pub commit_seconds: f64,
}

/// [`WriteStats`] as the writer counts them.
#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    writes: AtomicU64,
    failed_batches: AtomicU64,
    commit_nanos: AtomicU64,
}

impl Counters {
    fn count(&self, writes: usize, failed: bool, took: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.writes
            .fetch_add(u64::try_from(writes).unwrap_or(u64::MAX), Ordering::Relaxed);
        if failed {
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        self.commit_nanos.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn read(&self) -> WriteStats {
        WriteStats {
            batches: self.batches.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            commit_seconds: self.commit_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// Hands writes to the writer task.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    sender: mpsc::Sender<Op>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer. On SQLite it runs on a thread of its own: a
    /// commit's statements each wait for SQLite's connection thread, and
    /// queued behind the requests being priced on the runtime's workers
    /// every wait would lengthen the commit that all its saves wait for.
    /// On PostgreSQL (connections on the runtime's sockets) it is a task
    /// of the current runtime.
    pub(crate) fn start(pool: AnyPool, backend: Backend) -> Result<Self, StoreError> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let task = run(pool, backend, receiver, counters.clone());
        match backend {
            Backend::Sqlite => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(sqlx::Error::Io)?;
                std::thread::Builder::new()
                    .name("quote-writer".into())
                    .spawn(move || runtime.block_on(task))
                    .map_err(sqlx::Error::Io)?;
            }
            Backend::Postgres => {
                tokio::spawn(task);
            }
        }
        Ok(Self { sender, counters })
    }

    pub(crate) fn stats(&self) -> WriteStats {
        self.counters.read()
    }

    pub(crate) async fn write(&self, save: Save) -> Result<QuoteVersion, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Save(save, reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    pub(crate) async fn change(&self, change: StatusChange) -> Result<Changed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Change(change, reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    async fn send(&self, op: Op) -> Result<(), StoreError> {
        self.sender.send(op).await.map_err(|_| stopped())
    }
}

/// The answer to a write whose group commit failed with `message`.
fn not_stored(message: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(message.to_owned()))
}

fn stopped() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

async fn run(
    pool: AnyPool,
    backend: Backend,
    mut saves: mpsc::Receiver<Op>,
    counters: Arc<Counters>,
) {
    while let Some(first) = saves.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match saves.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        commit(&pool, backend, batch, &counters).await;
    }
}

/// Writes `batch` in one transaction, counts it in `counters`, then
/// answers each write (so a caller that has its answer sees its write
/// counted).
async fn commit(pool: &AnyPool, backend: Backend, batch: Vec<Op>, counters: &Counters) {
    let (writes, started) = (batch.len(), Instant::now());
    let mut answers = Vec::with_capacity(batch.len());
    let outcome: Result<(), StoreError> = async {
        // On SQLite the write lock is taken first (`BEGIN IMMEDIATE`,
        // waiting as long as the busy timeout allows): a deferred
        // transaction that reads the chain's head and then writes is
        // refused at once ("database is locked", no wait) when another
        // connection wrote in between.
        let mut tx = match backend {
            Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => pool.begin().await?,
        };
        // The writer holds the chain for the batch and stores the head
        // once; on PostgreSQL it locks the head row first, so the writers
        // of other replicas append after its commit.
        let mut chain = audit::head(&mut tx, backend == Backend::Postgres).await?;
        let mut ops = batch.into_iter().peekable();
        while let Some(op) = ops.next() {
            // A run of new quotes is written together, many rows to a
            // statement; it writes nothing before the statements that
            // could fail, and fails only with the database (then none of
            // the batch is stored).
            let op = match op {
                Op::Save(save, reply) if save.revise.is_none() => {
                    let mut run = vec![(save, reply)];
                    while let Some(Op::Save(next, _)) = ops.peek()
                        && next.revise.is_none()
                    {
                        if let Some(Op::Save(save, reply)) = ops.next() {
                            run.push((save, reply));
                        }
                    }
                    let (saves, replies): (Vec<_>, Vec<_>) = run.into_iter().unzip();
                    match create_all(&mut tx, saves, &mut chain, backend).await {
                        Ok(saved) => answers.extend(
                            saved
                                .into_iter()
                                .zip(replies)
                                .map(|(v, reply)| Answer::Saved(Ok(v), reply)),
                        ),
                        Err(error) => {
                            let message = error.to_string();
                            answers.extend(
                                replies
                                    .into_iter()
                                    .map(|reply| Answer::Saved(Err(not_stored(&message)), reply)),
                            );
                            return Err(error);
                        }
                    }
                    continue;
                }
                op => op,
            };
            // A revision or a status change may be refused after it has
            // read, so it runs under a savepoint.
            sqlx::query("SAVEPOINT write").execute(&mut *tx).await?;
            let before = chain.clone();
            let answer = match op {
                Op::Save(save, reply) => {
                    Answer::Saved(apply(&mut tx, save, &mut chain, backend).await, reply)
                }
                Op::Change(change, reply) => Answer::Changed(
                    apply_change(&mut tx, &change, Some(&mut chain)).await,
                    reply,
                ),
            };
            let failed = answer.failed();
            answers.push(answer);
            if failed {
                chain = before;
                sqlx::query("ROLLBACK TO SAVEPOINT write")
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("RELEASE SAVEPOINT write")
                .execute(&mut *tx)
                .await?;
        }
        audit::set_head(&mut tx, &chain).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    let failure = outcome.err().map(|error| {
        tracing::error!(%error, writes = answers.len(), "a group commit failed: none stored");
        error.to_string()
    });
    counters.count(writes, failure.is_some(), started.elapsed());
    for answer in answers {
        answer.send(failure.as_deref());
    }
}
