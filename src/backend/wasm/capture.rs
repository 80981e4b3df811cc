//! A bounded in-memory sink for a guest's stdout or stderr.
//!
//! What the guest writes is kept up to a limit and drained after each call; past the limit the
//! bytes are counted and dropped, so a guest that floods its output cannot exhaust host memory.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Shared state of one captured stream.
#[derive(Debug, Default)]
struct Sink {
    kept: Vec<u8>,
    dropped: u64,
}

/// A cloneable handle on one captured stream; all clones write to the same buffer.
#[derive(Clone, Debug)]
pub(crate) struct Capture {
    sink: Arc<Mutex<Sink>>,
    limit: usize,
}

impl Capture {
    /// A sink that keeps at most `limit` bytes between two drains.
    pub(crate) fn new(limit: usize) -> Capture {
        Capture {
            sink: Arc::default(),
            limit,
        }
    }

    fn push(&self, data: &[u8]) {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.limit.saturating_sub(sink.kept.len());
        let take = room.min(data.len());
        sink.kept.extend_from_slice(&data[..take]);
        sink.dropped += (data.len() - take) as u64;
    }

    /// Takes what was kept since the last drain, and how many bytes were dropped past the limit.
    pub(crate) fn drain(&self) -> (Vec<u8>, u64) {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let kept = std::mem::take(&mut sink.kept);
        let dropped = std::mem::take(&mut sink.dropped);
        (kept, dropped)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
