//! Group commit. One thread owns the write connection; callers queue operations to it and await
//! the reply. The thread takes whatever has queued up (at most `batch_max`), runs it in one
//! transaction with a savepoint per operation, commits once, then replies. Under load many
//! writes share one fsync; alone, a write commits as soon as it arrives.

use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::backend;
use crate::store::StoreError;

/// An operation queued for the writer, with the channel its result goes back on.
pub(super) trait WriteJob: Send {
    /// Runs the operation inside its savepoint; `true` if it succeeded (the savepoint is kept).
    fn run(&mut self, conn: &Connection) -> bool;

    /// Sends the result: the operation's own, or `batch_error` if the batch did not commit (then
    /// nothing of it was stored).
    fn reply(self: Box<Self>, batch_error: Option<&str>);
}

/// A [`WriteJob`] from a closure.
struct Job<T, F> {
    operation: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

/// A job for `operation` and the receiver its result arrives on.
pub(super) fn job<T, F>(operation: F) -> (Box<dyn WriteJob>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, receiver) = oneshot::channel();
    let job = Job {
        operation: Some(operation),
        result: None,
        reply,
    };
    (Box::new(job), receiver)
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(operation) = self.operation.take() else {
            return false;
        };
        let result = operation(conn);
        let succeeded = result.is_ok();
        self.result = Some(result);
        succeeded
    }

    fn reply(self: Box<Self>, batch_error: Option<&str>) {
        let result = match (batch_error, self.result) {
            (Some(error), _) => Err(StoreError::Backend(error.to_owned())),
            (None, Some(result)) => result,
            (None, None) => Err(StoreError::Backend("the write was not run".to_owned())),
        };
        // The caller may have given up waiting (its future dropped); the write stands anyway.
        let _ = self.reply.send(result);
    }
}

/// The writer thread and the queue into it.
#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::Sender<Box<dyn WriteJob>>,
    thread: JoinHandle<()>,
}

impl Writer {
    /// Starts the thread. It runs until every [`Writer`] handle to the queue is gone and the
    /// queue is drained.
    pub(super) fn spawn(conn: Connection, batch_max: usize) -> Result<Self, StoreError> {
        let batch_max = batch_max.max(1);
        // Bounded, so a flood of writers waits (asynchronously) instead of growing memory.
        let (queue, receiver) = mpsc::channel(batch_max.saturating_mul(4));
        let thread = std::thread::Builder::new()
            .name("hush-store-writer".to_owned())
            .spawn(move || run(conn, receiver, batch_max))
            .map_err(|error| StoreError::Backend(format!("cannot start the store writer thread: {error}")))?;
        Ok(Self { queue, thread })
    }

    /// Queues `operation` and waits for its committed result.
    pub(super) async fn submit<T, F>(&self, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, receiver) = job(operation);
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Backend("the store writer has stopped".to_owned()))?;
        receiver
            .await
            .map_err(|_| StoreError::Backend("the store writer stopped before replying".to_owned()))?
    }

    /// Closes the queue; the thread finishes what is queued and exits. Returns the thread to
    /// join, for a caller that wants to wait.
    pub(super) fn stop(self) -> JoinHandle<()> {
        drop(self.queue);
        self.thread
    }
}

fn run(mut conn: Connection, mut receiver: mpsc::Receiver<Box<dyn WriteJob>>, batch_max: usize) {
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch);
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint so a failing job (over quota,
/// unknown mailbox) is undone alone, commits once and replies to every job.
pub(super) fn run_batch(conn: &mut Connection, mut batch: Vec<Box<dyn WriteJob>>) {
    let outcome = (|| -> Result<(), rusqlite::Error> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in &mut batch {
            let savepoint = tx.savepoint()?;
            if job.run(&savepoint) {
                savepoint.commit()?;
            } else {
                // Dropping a savepoint rolls it back; `finish` does so and reports failure.
                savepoint.finish()?;
            }
        }
        tx.commit()
    })();
    let batch_error = outcome.err().map(|error| match backend(error) {
        StoreError::Backend(message) => message,
        other => other.to_string(),
    });
    for job in batch {
        job.reply(batch_error.as_deref());
    }
}
