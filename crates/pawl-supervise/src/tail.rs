//! The last bytes of a child's standard error, kept for messages ("it crashed, and said …").

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The last `limit` bytes of a stream, read by a thread of its own until the stream ends.
#[derive(Debug)]
pub(crate) struct Tail {
    bytes: Arc<Mutex<VecDeque<u8>>>,
    /// Disconnected by the reading thread when the stream ends.
    ended: Receiver<()>,
}

impl Tail {
    pub(crate) fn spawn(mut stream: impl Read + Send + 'static, limit: usize) -> Tail {
        let bytes = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&bytes);
        let (end, ended) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let _end = end;
            let mut buf = [0u8; 4096];
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                let mut tail = keep.lock().unwrap_or_else(PoisonError::into_inner);
                tail.extend(&buf[..n]);
                let excess = tail.len().saturating_sub(limit);
                tail.drain(..excess);
            }
        });
        Tail { bytes, ended }
    }

    /// The tail as text (lossy, trimmed), once the stream has ended or `wait` has passed: the last
    /// words of a crashing process are often still in the pipe when it is reaped.
    pub(crate) fn text(&self, wait: Duration) -> String {
        let _ = self.ended.recv_timeout(wait);
        let tail = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let (front, back) = tail.as_slices();
        String::from_utf8_lossy(&[front, back].concat()).trim().to_owned()
    }
}
