//! Group commit. One thread owns the write connection and the message journal ([`Committer`]);
//! callers queue operations to it ([`job`]) and get the result once it is durable. The thread
//! takes whatever has queued up (at most `batch_max`) and runs it as one batch, answers every
//! job, then makes the batch's messages and acks visible to reads. Under load many writes share
//! one fsync: a batch starts at most once per commit delay ([`pace`]), and what arrives meanwhile
//! joins the next one. The store's flush ticks reach the thread as jobs ([`flush`]).

mod committer;
mod flush;
mod job;
mod pace;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::mpsc;

pub(super) use self::committer::Committer;
pub(super) use self::flush::FLUSH_TICK;
#[cfg(test)]
pub(super) use self::flush::{CHECKPOINT_COMMITS, FLUSH_MESSAGES};
use self::job::Committed;
pub(super) use self::job::{Before, Guard, WriteJob, job, job_then};
pub(super) use self::pace::{CommitDelay, Pace};
use crate::store::sqlite::batch::Batch;
use crate::store::{BackendError, StoreError};

/// The writer thread and the queue into it.
#[derive(Debug)]
pub(in crate::store::sqlite) struct Writer {
    queue: mpsc::Sender<Box<dyn WriteJob>>,
    /// `None` once taken by [`Writer::shutdown`].
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Asks the thread to stop taking jobs once it has run those already queued.
    stopping: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the thread. It runs until every [`Writer`] handle to the queue is gone and the
    /// queue is drained, then flushes a last time.
    pub(in crate::store::sqlite) fn spawn(
        committer: Committer,
        batch_max: usize,
        mut pace: Box<dyn Pace>,
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
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name("hush-store-writer".to_owned())
            .spawn(move || run(committer, receiver, batch_max, pace.as_mut(), replies, &stop))
            .map_err(|source| BackendError::Thread {
                name: "writer",
                source,
            })?;
        Ok(Self {
            queue,
            thread: Mutex::new(Some(thread)),
            stopping,
        })
    }

    /// Queues `operation` and waits for its durable result.
    pub(in crate::store::sqlite) async fn submit<T, F>(
        &self,
        guard: Guard,
        before: Before,
        operation: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, receiver) = job(guard, before, operation);
        self.queue.send(job).await.map_err(|_| BackendError::Closed)?;
        receiver.await.map_err(|_| BackendError::NoReply)?
    }

    /// Queues `operation`; `done` gets its durable result. Returns once queued (waiting for
    /// room when the queue is full).
    pub(in crate::store::sqlite) async fn submit_then<T, F, D>(&self, guard: Guard, operation: F, done: D)
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        if let Err(mpsc::error::SendError(job)) = self
            .queue
            .send(job_then(guard, Before::Nothing, operation, done))
            .await
        {
            job.reply(Some(&Arc::new(BackendError::Closed)));
        }
    }

    /// A handle on the queue that does not keep the writer running.
    pub(in crate::store::sqlite) fn weak_queue(&self) -> mpsc::WeakSender<Box<dyn WriteJob>> {
        self.queue.downgrade()
    }

    /// Closes the queue; the thread finishes what is queued, flushes and exits. Returns the
    /// thread to join, for a caller that wants to wait (none if [`Writer::shutdown`] took it).
    pub(in crate::store::sqlite) fn stop(self) -> Option<JoinHandle<()>> {
        drop(self.queue);
        self.thread.into_inner().unwrap_or_else(PoisonError::into_inner)
    }

    /// Through a shared reference: the thread runs what is already queued, flushes, closes the
    /// database and the journal, and exits; later writes fail. Waits for all of that.
    pub(in crate::store::sqlite) async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        // Wakes a thread waiting for work, so it sees the flag.
        let (wake, _) = job(Guard::None, Before::Nothing, |_: &mut Batch<'_>| Ok(()));
        let _ = self.queue.send(wake).await;
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
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

/// The writer thread's loop. Before each batch but the first it waits as `pace` says (in the
/// relay, a batch starts at most once per commit delay): under load the writes that arrive
/// meanwhile queue up and share the next batch and its one fsync, which costs each of them up to
/// the delay in latency and saves the CPU of the fsyncs, wake-ups and context switches that many
/// small batches take. A write that finds the writer idle for longer than that starts at once.
/// While the store stops, batches are not paced.
fn run(
    mut committer: Committer,
    mut receiver: mpsc::Receiver<Box<dyn WriteJob>>,
    batch_max: usize,
    pace: &mut dyn Pace,
    replies: Option<mpsc::UnboundedSender<Committed>>,
    stopping: &AtomicBool,
) {
    // A job that needs a flush first, held back from the batch before it.
    let mut held: Option<Box<dyn WriteJob>> = None;
    let mut batch_started: Option<Instant> = None;
    loop {
        if let Some(started) = batch_started
            && !stopping.load(Ordering::Acquire)
        {
            pace.wait(started);
        }
        let first = match held.take() {
            Some(job) => job,
            None => match receiver.blocking_recv() {
                Some(job) => job,
                None => break,
            },
        };
        let scrubbing = first.before() == Before::FlushAndScrub;
        let prepared = match first.before() {
            Before::Nothing => Ok(()),
            #[cfg(test)]
            Before::Flush => committer.flush(),
            Before::Tick => {
                committer.tick();
                Ok(())
            }
            Before::FlushAndScrub => committer.flush().and_then(|()| committer.scrub()),
        };
        if let Err(error) = prepared {
            first.reply(Some(&Arc::new(error)));
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(job) if job.before() != Before::Nothing => {
                    held = Some(job);
                    break;
                }
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch_started = Some(Instant::now());
        let committed = committer.run_batch(batch);
        if scrubbing {
            // Before the answer: the WAL still holds the deleted rows' old pages.
            committer.truncate_wal();
        }
        match &replies {
            // The runtime the store was opened on answers; if it has shut down, answer here.
            Some(replies) => {
                if let Err(mpsc::error::SendError(committed)) = replies.send(committed) {
                    committed.reply();
                }
            }
            None => committed.reply(),
        }
        committer.housekeeping(false);
        if stopping.load(Ordering::Acquire) {
            // Refuses new jobs; those already queued still come out of `blocking_recv`.
            receiver.close();
        }
    }
    committer.housekeeping(true);
}
