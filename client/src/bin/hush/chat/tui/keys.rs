//! Terminal events (keys, resizes) read on a thread of their own and handed to the chat loop.
//! Dropping [`TerminalEvents`] stops and joins the thread, so once the chat is gone nothing
//! reads standard input any more: what is typed next goes to the shell.

use std::thread::JoinHandle;
use std::time::Duration;

use crossterm::event::Event;
use tokio::sync::mpsc;

/// How often the reader looks whether the chat is gone.
const READER_POLL: Duration = Duration::from_millis(100);

/// The terminal's events, while this lives.
pub struct TerminalEvents {
    events: mpsc::UnboundedReceiver<std::io::Result<Event>>,
    reader: Option<JoinHandle<()>>,
}

impl TerminalEvents {
    /// Starts reading.
    pub fn start() -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        let reader = std::thread::spawn(move || read(&sender));
        Self {
            events,
            reader: Some(reader),
        }
    }

    /// The next event; `None` once reading failed and the error was handed over.
    pub async fn next(&mut self) -> Option<std::io::Result<Event>> {
        self.events.recv().await
    }
}

impl Drop for TerminalEvents {
    fn drop(&mut self) {
        self.events.close();
        if let Some(reader) = self.reader.take() {
            // It sees the closed channel within one poll.
            let _ = reader.join();
        }
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
