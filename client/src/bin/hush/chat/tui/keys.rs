//! Terminal events (keys, resizes, pastes) read on a thread of their own and handed to the chat
//! loop. Dropping [`TerminalEvents`] stops the thread and waits (a bounded time) for it to end,
//! so once the chat is gone nothing reads standard input any more: what is typed next goes to
//! the shell.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use crossterm::event::Event;
use tokio::sync::mpsc;

/// How often the reader looks whether the chat is gone.
const READER_POLL: Duration = Duration::from_millis(100);
/// Longest wait for the reader to end. A terminal that went away (a hangup) can keep the
/// reader inside crossterm's poll for ever; the chat leaves without it then.
const READER_STOP: Duration = Duration::from_millis(500);

/// The terminal's events, while this lives.
pub struct TerminalEvents {
    events: mpsc::UnboundedReceiver<std::io::Result<Event>>,
    /// Disconnected once the reader has ended (it holds the sender).
    reader_done: std_mpsc::Receiver<()>,
}

impl TerminalEvents {
    /// Starts reading.
    pub fn start() -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        let (done, reader_done) = std_mpsc::channel::<()>();
        std::thread::spawn(move || {
            read(&sender);
            drop(done);
        });
        Self { events, reader_done }
    }

    /// The next event; `None` once reading failed and the error was handed over.
    pub async fn next(&mut self) -> Option<std::io::Result<Event>> {
        self.events.recv().await
    }
}

impl Drop for TerminalEvents {
    fn drop(&mut self) {
        self.events.close();
        // It sees the closed channel within one poll (the wait ends as soon as it has ended).
        let _ = self.reader_done.recv_timeout(READER_STOP);
    }
}

/// Forwards events until the channel is closed or reading fails.
fn read(sender: &mpsc::UnboundedSender<std::io::Result<Event>>) {
    while !sender.is_closed() {
        match crossterm::event::poll(READER_POLL) {
            Ok(false) => {}
            Ok(true) => {
                let event = crossterm::event::read();
                let failed = event.is_err();
                if sender.send(event).is_err() || failed {
                    return;
                }
            }
            Err(error) => {
                let _ = sender.send(Err(error));
                return;
            }
        }
    }
}
