//! Group commit on SQLite: many requests' transactions share one database transaction and
//! one `COMMIT` (one fsync), each request inside its own `SAVEPOINT`.
//!
//! Why: with `synchronous=FULL` every commit waits for the disk (~3,000 fsyncs/s here), and
//! SQLite has one writer, so one commit per request caps every write in the product at the
//! disk's rate minus the work done while holding the lock. Batching the commits lifts that
//! cap without weakening anything a caller can observe:
//!
//! - **Whole or nothing per request.** [`GroupTx::begin`] opens `SAVEPOINT req` inside
//!   the batch's transaction; a request that fails (any `?` before its commit drops the
//!   transaction) is rolled back to its savepoint — its writes vanish, the batch's other
//!   requests are untouched.
//! - **Acknowledged means durable.** [`GroupTx::commit`] releases the savepoint and then
//!   *waits* for the batch's `COMMIT`; only then does the request get `Ok` and answer its
//!   caller. If the `COMMIT` fails, every request of the batch gets the error.
//! - **Ordering is the lock's order.** One connection behind a fair (FIFO) async mutex:
//!   requests run one at a time in arrival order, exactly as the one-connection pool did.
//!
//! How a batch forms: the first request of a batch notifies the committer task, which then
//! queues for the same mutex. Everyone already waiting is ahead of it in the FIFO, so the
//! batch is "every request that arrived while the previous batch was being written" —
//! large under load, a single request when the hall is quiet (then the commit follows at
//! once; nothing waits on a timer).
//!
//! A request that is dropped without committing marks the slot `abandoned`; whoever takes
//! the lock next rolls back to its savepoint first, so the work is never committed.

use crate::{Result, StoreError};
use sqlx::{AnyConnection, Executor};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{oneshot, Mutex, Notify, OwnedMutexGuard};

/// The upper bound of one batch: past it the committing request wakes the committer
/// even though others wait, so a batch never grows without bound under overload.
pub const MAX_BATCH: usize = 512;

/// What a request waits for after releasing its savepoint: the batch's `COMMIT` outcome.
type Outcome = std::result::Result<(), String>;

struct Slot {
    conn: AnyConnection,
    /// A batch transaction is open on `conn`.
    open: bool,
    /// The last request left without committing: its savepoint must be rolled back before
    /// anything else runs on `conn`.
    abandoned: bool,
    /// Requests whose savepoints are released into the open batch, waiting for `COMMIT`.
    waiters: Vec<oneshot::Sender<Outcome>>,
    stats: WriterStats,
}

/// Counters of the group-commit writer since start: how well batching works.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// `COMMIT`s that made at least one request durable.
    pub commits: u64,
    /// Requests acknowledged by those commits.
    pub committed: u64,
    /// Requests rolled back to their savepoint (failed or dropped).
    pub rolled_back: u64,
    /// Batches lost whole because the commit (or a rollback) failed.
    pub failed_batches: u64,
}

impl Slot {
    /// Rolls back an abandoned request. If that fails the batch is lost: everyone waiting
    /// on it gets the error (nothing of theirs was acknowledged yet).
    async fn settle(&mut self) {
        if !self.abandoned {
            return;
        }
        self.abandoned = false;
        self.stats.rolled_back += 1;
        let mut undone = self.conn.execute("ROLLBACK TO req").await;
        if undone.is_ok() {
            undone = self.conn.execute("RELEASE req").await;
        }
        if let Err(e) = undone {
            self.fail_batch(format!("rolling back a request failed: {e}"))
                .await;
        }
    }

    /// Commits the open batch (or ends an empty one) and answers its waiters.
    async fn flush(&mut self) {
        self.settle().await;
        if !self.open {
            return;
        }
        if self.waiters.is_empty() {
            // Only abandoned requests were here: nothing to make durable.
            let _ = self.conn.execute("ROLLBACK").await;
            self.open = false;
            return;
        }
        match self.conn.execute("COMMIT").await {
            Ok(_) => {
                self.open = false;
                self.stats.commits += 1;
                self.stats.committed += self.waiters.len() as u64;
                for w in self.waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
            }
            Err(e) => self.fail_batch(format!("commit failed: {e}")).await,
        }
    }

    async fn fail_batch(&mut self, why: String) {
        tracing::error!(%why, waiters = self.waiters.len(), "SQLite write batch rolled back");
        let _ = self.conn.execute("ROLLBACK").await;
        self.open = false;
        self.stats.failed_batches += 1;
        for w in self.waiters.drain(..) {
            let _ = w.send(Err(why.clone()));
        }
    }
}

/// The shared writer: one connection, its lock, and the committer's wake-up.
pub(crate) struct Writer {
    slot: Arc<Mutex<Slot>>,
    wake: Notify,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Takes over `conn` and starts the committer task.
    pub(crate) fn start(conn: AnyConnection) -> Arc<Writer> {
        let writer = Arc::new(Writer {
            slot: Arc::new(Mutex::new(Slot {
                conn,
                open: false,
                abandoned: false,
                waiters: Vec::new(),
                stats: WriterStats::default(),
            })),
            wake: Notify::new(),
        });
        // The task holds only a weak reference between rounds, so dropping the last Store
        // ends it (within a second).
        let weak = Arc::downgrade(&writer);
        tokio::spawn(async move {
            while let Some(writer) = weak.upgrade() {
                // `notify_one` leaves a permit when we are busy flushing, so a request that
                // commits meanwhile is never left waiting for the next round.
                tokio::select! {
                    _ = writer.wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
                writer.slot.lock().await.flush().await;
            }
        });
        writer
    }

    /// The writer connection with no batch open, for work that manages its own
    /// transactions (migrations): waits for the lock, commits what is pending first.
    pub(crate) async fn exclusive(&self) -> Exclusive {
        let mut slot = self.slot.clone().lock_owned().await;
        slot.flush().await;
        Exclusive(slot)
    }

    pub(crate) async fn stats(&self) -> WriterStats {
        self.slot.lock().await.stats
    }

    /// Commits what is pending (the connection closes when the last Store is dropped).
    pub(crate) async fn close(&self) {
        self.slot.lock().await.flush().await;
    }
}

/// The writer connection outside any batch (see [`Writer::exclusive`]).
pub(crate) struct Exclusive(OwnedMutexGuard<Slot>);

impl Deref for Exclusive {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.0.conn
    }
}

impl DerefMut for Exclusive {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0.conn
    }
}

/// One request's transaction inside a batch. Derefs to the connection.
pub struct GroupTx {
    slot: Option<OwnedMutexGuard<Slot>>,
    writer: Arc<Writer>,
}

impl GroupTx {
    pub(crate) async fn begin(writer: &Arc<Writer>) -> Result<GroupTx> {
        let mut slot = writer.slot.clone().lock_owned().await;
        slot.settle().await;
        if slot.waiters.len() >= MAX_BATCH {
            slot.flush().await;
        }
        if !slot.open {
            // IMMEDIATE takes the write lock now, so a second process over the same file
            // waits here (busy_timeout) rather than failing at the first write.
            slot.conn.execute("BEGIN IMMEDIATE").await?;
            slot.open = true;
        }
        if let Err(e) = slot.conn.execute("SAVEPOINT req").await {
            slot.fail_batch(format!("savepoint failed: {e}")).await;
            return Err(e.into());
        }
        Ok(GroupTx {
            slot: Some(slot),
            writer: writer.clone(),
        })
    }

    /// Releases the savepoint into the batch and waits until the batch is committed.
    pub async fn commit(mut self) -> Result<()> {
        let mut slot = self.slot.take().expect("a live transaction holds the slot");
        if let Err(e) = slot.conn.execute("RELEASE req").await {
            slot.fail_batch(format!("release failed: {e}")).await;
            return Err(e.into());
        }
        let (tx, rx) = oneshot::channel();
        slot.waiters.push(tx);
        drop(slot);
        self.writer.wake.notify_one();
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(StoreError::CommitFailed(why)),
            Err(_) => Err(StoreError::CommitFailed("the writer stopped".into())),
        }
    }

    /// Undoes this request's writes now (instead of when the next request starts).
    pub async fn rollback(mut self) -> Result<()> {
        let mut slot = self.slot.take().expect("a live transaction holds the slot");
        slot.abandoned = true;
        slot.settle().await;
        drop(slot);
        self.writer.wake.notify_one();
        Ok(())
    }
}

impl Drop for GroupTx {
    fn drop(&mut self) {
        if let Some(mut slot) = self.slot.take() {
            slot.abandoned = true;
            drop(slot);
            // Let the committer settle it and end the batch, so an abandoned request never
            // keeps the write lock (other processes, checkpoints) waiting.
            self.writer.wake.notify_one();
        }
    }
}

impl Deref for GroupTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self
            .slot
            .as_ref()
            .expect("a live transaction holds the slot")
            .conn
    }
}

impl DerefMut for GroupTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self
            .slot
            .as_mut()
            .expect("a live transaction holds the slot")
            .conn
    }
}
