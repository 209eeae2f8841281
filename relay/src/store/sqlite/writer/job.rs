//! A write queued for the writer thread: what it runs on the batch, how its failure is undone,
//! and where its result goes.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::store::sqlite::batch::Batch;
use crate::store::{BackendError, StoreError};

/// How a failing operation is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store::sqlite) enum Guard {
    /// Runs in its own savepoint, rolled back if it fails: the operation may refuse after it
    /// has written.
    Savepoint,
    /// Runs without one. The operation must refuse (any error but [`StoreError::Backend`])
    /// before it writes anything; a backend error may come after a partial write, so it
    /// abandons the whole batch, whose jobs all get the error. Enqueues and acks, which write
    /// only to the journal, are such operations.
    None,
}

/// What the writer does before a job's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store::sqlite) enum Before {
    /// Nothing: the job works on journal and memory as they are.
    Nothing,
    /// Flushes everything into the database first (tests that look at the rows).
    #[cfg(test)]
    Flush,
    /// A flush tick ([`FLUSH_TICK`](super::FLUSH_TICK)) has come: flushes first what has waited since the previous
    /// one (`Committer::tick`).
    Tick,
    /// Flushes, then zeroes what the journal file still holds of earlier cycles: the job must
    /// leave no ciphertext behind (deleting a mailbox, purging expired messages).
    FlushAndScrub,
}

/// What running a job did to the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store::sqlite) enum Ran {
    /// Succeeded; its changes stay.
    Succeeded,
    /// Failed; undo its savepoint, or nothing if it had none (it refused before writing).
    Failed,
    /// Failed with a backend error without a savepoint: the batch may hold part of it.
    Broke,
}

/// An operation queued for the writer, with the channel its result goes back on.
pub(in crate::store::sqlite) trait WriteJob: Send {
    /// How a failure of this job is undone.
    fn guard(&self) -> Guard;

    /// What the writer must do before the job's batch.
    fn before(&self) -> Before;

    /// Runs the operation (inside its savepoint, if it has one).
    fn run(&mut self, batch: &mut Batch<'_>) -> Ran;

    /// Sends the result: the operation's own, or `batch_error` if the batch did not commit (then
    /// nothing of it was stored).
    fn reply(self: Box<Self>, batch_error: Option<&Arc<BackendError>>);
}

/// A [`WriteJob`] from a closure, with what to do with its result.
struct Job<T, F, D> {
    guard: Guard,
    before: Before,
    operation: Option<F>,
    result: Option<Result<T, StoreError>>,
    done: D,
}

/// A job for `operation` and the receiver its result arrives on.
pub(in crate::store::sqlite) fn job<T, F>(
    guard: Guard,
    before: Before,
    operation: F,
) -> (Box<dyn WriteJob>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, receiver) = oneshot::channel();
    // The caller may have given up waiting (its future dropped); the write stands anyway.
    let job = job_then(guard, before, operation, move |result| drop(reply.send(result)));
    (job, receiver)
}

/// A job for `operation` whose result goes to `done`, called on the thread or task that answers
/// committed batches.
pub(in crate::store::sqlite) fn job_then<T, F, D>(
    guard: Guard,
    before: Before,
    operation: F,
    done: D,
) -> Box<dyn WriteJob>
where
    T: Send + 'static,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    D: FnOnce(Result<T, StoreError>) + Send + 'static,
{
    Box::new(Job {
        guard,
        before,
        operation: Some(operation),
        result: None,
        done,
    })
}

impl<T, F, D> WriteJob for Job<T, F, D>
where
    T: Send,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send,
    D: FnOnce(Result<T, StoreError>) + Send,
{
    fn guard(&self) -> Guard {
        self.guard
    }

    fn before(&self) -> Before {
        self.before
    }

    fn run(&mut self, batch: &mut Batch<'_>) -> Ran {
        let Some(operation) = self.operation.take() else {
            return Ran::Failed;
        };
        let result = operation(batch);
        let ran = match (&result, self.guard) {
            (Ok(_), _) => Ran::Succeeded,
            (Err(StoreError::Backend(_)), Guard::None) => Ran::Broke,
            (Err(_), _) => Ran::Failed,
        };
        self.result = Some(result);
        ran
    }

    fn reply(self: Box<Self>, batch_error: Option<&Arc<BackendError>>) {
        let result = match (batch_error, self.result) {
            (Some(error), _) => Err(BackendError::Shared(Arc::clone(error)).into()),
            (None, Some(result)) => result,
            (None, None) => Err(BackendError::Invariant("the write was not run").into()),
        };
        (self.done)(result);
    }
}

/// A batch after it was made durable (or failed), with the jobs still to be answered.
pub(in crate::store::sqlite) struct Committed {
    batch: Vec<Box<dyn WriteJob>>,
    /// Why nothing of the batch was stored, if so.
    error: Option<Arc<BackendError>>,
}

impl Committed {
    pub(super) fn new(batch: Vec<Box<dyn WriteJob>>, error: Option<Arc<BackendError>>) -> Self {
        Self { batch, error }
    }

    /// Answers every job of the batch.
    pub(in crate::store::sqlite) fn reply(self) {
        for job in self.batch {
            job.reply(self.error.as_ref());
        }
    }
}
