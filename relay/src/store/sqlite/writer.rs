//! Group commit. One thread owns the write connection; callers queue operations to it and await
//! the reply. The thread takes whatever has queued up (at most `batch_max`), runs it in one
//! transaction, each operation in a savepoint unless it needs none ([`Guard`]), commits once,
//! then replies. Under load many writes share one fsync; alone, a write commits as soon as it
//! arrives.

use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::backend;
use crate::store::StoreError;

/// How a failing operation is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// Runs in its own savepoint, rolled back if it fails: the operation may refuse after it
    /// has written.
    Savepoint,
    /// Runs without one. The operation must refuse (any error but [`StoreError::Backend`])
    /// before it writes anything; a backend error may come after a partial write, so it
    /// abandons the whole batch, whose jobs all get the error. Saves two statements and the
    /// copy of every page it touches into the statement journal, per operation.
    None,
}

/// What running a job did to the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ran {
    /// Succeeded; its changes stay.
    Succeeded,
    /// Failed; undo its savepoint, or nothing if it had none (it refused before writing).
    Failed,
    /// Failed with a backend error without a savepoint: the transaction may hold part of it.
    Broke,
}

/// An operation queued for the writer, with the channel its result goes back on.
pub(super) trait WriteJob: Send {
    /// How a failure of this job is undone.
    fn guard(&self) -> Guard;

    /// Runs the operation (inside its savepoint, if it has one).
    fn run(&mut self, conn: &Connection) -> Ran;

    /// Sends the result: the operation's own, or `batch_error` if the batch did not commit (then
    /// nothing of it was stored).
    fn reply(self: Box<Self>, batch_error: Option<&str>);
}

/// A [`WriteJob`] from a closure, with what to do with its result.
struct Job<T, F, D> {
    guard: Guard,
    operation: Option<F>,
    result: Option<Result<T, StoreError>>,
    done: D,
}

/// A job for `operation` and the receiver its result arrives on.
pub(super) fn job<T, F>(
    guard: Guard,
    operation: F,
) -> (Box<dyn WriteJob>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, receiver) = oneshot::channel();
    // The caller may have given up waiting (its future dropped); the write stands anyway.
    let job = job_then(guard, operation, move |result| drop(reply.send(result)));
    (job, receiver)
}

/// A job for `operation` whose result goes to `done`, called on the thread or task that answers
/// committed batches.
pub(super) fn job_then<T, F, D>(guard: Guard, operation: F, done: D) -> Box<dyn WriteJob>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    D: FnOnce(Result<T, StoreError>) + Send + 'static,
{
    Box::new(Job {
        guard,
        operation: Some(operation),
        result: None,
        done,
    })
}

impl<T, F, D> WriteJob for Job<T, F, D>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
    D: FnOnce(Result<T, StoreError>) + Send,
{
    fn guard(&self) -> Guard {
        self.guard
    }

    fn run(&mut self, conn: &Connection) -> Ran {
        let Some(operation) = self.operation.take() else {
            return Ran::Failed;
        };
        let result = operation(conn);
        let ran = match (&result, self.guard) {
            (Ok(_), _) => Ran::Succeeded,
            (Err(StoreError::Backend(_)), Guard::None) => Ran::Broke,
            (Err(_), _) => Ran::Failed,
        };
        self.result = Some(result);
        ran
    }

    fn reply(self: Box<Self>, batch_error: Option<&str>) {
        let result = match (batch_error, self.result) {
            (Some(error), _) => Err(StoreError::Backend(error.to_owned())),
            (None, Some(result)) => result,
            (None, None) => Err(StoreError::Backend("the write was not run".to_owned())),
        };
        (self.done)(result);
    }
}

/// Work the writer thread does on its connection between batches: after each batch (`false`),
/// and once more before it exits (`true`).
pub(super) type Housekeeping = Box<dyn FnMut(&mut Connection, bool) + Send>;

/// The writer thread and the queue into it.
#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::Sender<Box<dyn WriteJob>>,
    thread: JoinHandle<()>,
}

impl Writer {
    /// Starts the thread. It runs until every [`Writer`] handle to the queue is gone and the
    /// queue is drained.
    pub(super) fn spawn(
        conn: Connection,
        batch_max: usize,
        housekeeping: Housekeeping,
    ) -> Result<Self, StoreError> {
        let batch_max = batch_max.max(1);
        // Bounded, so a flood of writers waits (asynchronously) instead of growing memory.
        let (queue, receiver) = mpsc::channel(batch_max.saturating_mul(4));
        let replies = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            // Unbounded, but each job in it has a caller still waiting for it, as in the queue.
            let (replies, committed) = mpsc::unbounded_channel();
            runtime.spawn(reply_to_each(committed));
            replies
        });
        let thread = std::thread::Builder::new()
            .name("hush-store-writer".to_owned())
            .spawn(move || run(conn, receiver, batch_max, replies, housekeeping))
            .map_err(|error| StoreError::Backend(format!("cannot start the store writer thread: {error}")))?;
        Ok(Self { queue, thread })
    }

    /// Queues `operation` and waits for its committed result.
    pub(super) async fn submit<T, F>(&self, guard: Guard, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, receiver) = job(guard, operation);
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Backend("the store writer has stopped".to_owned()))?;
        receiver
            .await
            .map_err(|_| StoreError::Backend("the store writer stopped before replying".to_owned()))?
    }

    /// Queues `operation`; `done` gets its committed result. Returns once queued (waiting for
    /// room when the queue is full).
    pub(super) async fn submit_then<T, F, D>(&self, guard: Guard, operation: F, done: D)
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        if let Err(mpsc::error::SendError(job)) = self.queue.send(job_then(guard, operation, done)).await {
            job.reply(Some("the store writer has stopped"));
        }
    }

    /// A handle on the queue that does not keep the writer running.
    pub(super) fn weak_queue(&self) -> mpsc::WeakSender<Box<dyn WriteJob>> {
        self.queue.downgrade()
    }

    /// Closes the queue; the thread finishes what is queued and exits. Returns the thread to
    /// join, for a caller that wants to wait.
    pub(super) fn stop(self) -> JoinHandle<()> {
        drop(self.queue);
        self.thread
    }
}

/// A batch after its commit (or its failure), with the jobs still to be answered.
struct Committed {
    batch: Vec<Box<dyn WriteJob>>,
    /// Why nothing of the batch was stored, if so.
    error: Option<String>,
}

impl Committed {
    fn reply(self) {
        for job in self.batch {
            job.reply(self.error.as_deref());
        }
    }
}

/// Answers committed batches from inside the runtime. Waking a waiting task from the writer
/// thread can cost a system call each (to unpark an idle worker), paid on the one thread every
/// write waits for; handing over the whole batch costs one wake-up, and the tasks it wakes
/// from here go to a worker's own queue.
async fn reply_to_each(mut committed: mpsc::UnboundedReceiver<Committed>) {
    while let Some(batch) = committed.recv().await {
        batch.reply();
    }
}

fn run(
    mut conn: Connection,
    mut receiver: mpsc::Receiver<Box<dyn WriteJob>>,
    batch_max: usize,
    replies: Option<mpsc::UnboundedSender<Committed>>,
    mut housekeeping: Housekeeping,
) {
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit_batch(&mut conn, batch);
        match &replies {
            // The runtime the store was opened on answers; if it has shut down, answer here.
            Some(replies) => {
                if let Err(mpsc::error::SendError(committed)) = replies.send(committed) {
                    committed.reply();
                }
            }
            None => committed.reply(),
        }
        housekeeping(&mut conn, false);
    }
    housekeeping(&mut conn, true);
}

/// Runs `batch` in one transaction so that a failing job (over quota, unknown mailbox) is undone
/// alone (its savepoint rolled back, or it refused before writing), commits once and replies to
/// every job.
#[cfg(test)]
pub(super) fn run_batch(conn: &mut Connection, batch: Vec<Box<dyn WriteJob>>) {
    commit_batch(conn, batch).reply();
}

/// The work of [`run_batch`] but the replies.
fn commit_batch(conn: &mut Connection, mut batch: Vec<Box<dyn WriteJob>>) -> Committed {
    let outcome = (|| -> Result<Result<(), &'static str>, rusqlite::Error> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in &mut batch {
            match job.guard() {
                Guard::Savepoint => {
                    let savepoint = tx.savepoint()?;
                    if job.run(&savepoint) == Ran::Succeeded {
                        savepoint.commit()?;
                    } else {
                        // Dropping a savepoint rolls it back; `finish` does so and reports failure.
                        savepoint.finish()?;
                    }
                }
                Guard::None => {
                    if job.run(&tx) == Ran::Broke {
                        // Dropping the transaction rolls all of it back.
                        return Ok(Err("a write failed part-way; its batch was rolled back"));
                    }
                }
            }
        }
        tx.commit().map(Ok)
    })();
    let batch_error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(message.to_owned()),
        Err(error) => Some(match backend(error) {
            StoreError::Backend(message) => message,
            other => other.to_string(),
        }),
    };
    Committed {
        batch,
        error: batch_error,
    }
}
