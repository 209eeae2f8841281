//! The metrics endpoint: a minimal HTTP/1.1 responder where any GET gets the metrics text.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Gauges;
use crate::shared::Shared;
use crate::store::Store;

/// The metrics text: the counters, the store's queue depth and statistics, and who is connected.
pub(crate) async fn render<S: Store>(shared: &Shared<S>) -> String {
    let depth = shared.store.queue_depth().await.ok();
    shared.metrics.render(
        depth,
        Gauges {
            online: shared.hub.len(),
            unauthenticated: shared.admission.unauthenticated(),
        },
        shared.store.stats(),
    )
}

/// Serves the metrics on `listener` until `stop` changes.
pub(crate) async fn serve_metrics<S: Store>(
    listener: TcpListener,
    shared: Arc<Shared<S>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((mut socket, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut request)).await;
            if !matches!(read, Ok(Ok(n)) if n > 0) {
                return;
            }
            let body = render(&shared).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}
