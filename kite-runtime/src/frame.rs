//! Stream framing over any runtime's streams: one length-prefixed frame
//! (see [`frame`]) read with a limit by kite-proto's [`frame::Reader`]
//! (which allocates only as bytes arrive), or written whole; every step
//! under the stream timeout.

use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::time::Instant;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use kite_proto::wire::frame;
use kite_proto::{DecodeError, StreamError};

use crate::runtime::Runtime;

/// `step`'s output, or `None` if it takes longer than `limit`.
pub(crate) async fn within<R: Runtime, F: Future>(limit: Duration, step: F) -> Option<F::Output> {
    let expired = async {
        R::sleep_until(Instant::now() + limit).await;
        None
    };
    future::or(async { Some(step.await) }, expired).await
}

/// Runs one step of a stream (connect, write or read) under the stream
/// timeout.
pub(crate) async fn timeout<R: Runtime, T, E: Into<FrameError>>(
    limit: Duration,
    step: impl Future<Output = Result<T, E>>,
) -> Result<T, FrameError> {
    match within::<R, _>(limit, step).await {
        Some(result) => result.map_err(Into::into),
        None => Err(FrameError::TimedOut),
    }
}

/// Reads one frame of at most `max` bytes from `stream`.
pub(crate) async fn read_frame(
    stream: &mut (impl AsyncRead + Unpin),
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut reader = frame::Reader::new(max);
    loop {
        let n = stream.read(reader.buf()).await?;
        if let Some(body) = reader.advance(n)? {
            return Ok(body);
        }
    }
}

/// Writes `payload` as one frame to `stream`.
pub(crate) async fn write_frame(
    stream: &mut (impl AsyncWrite + Unpin),
    payload: &[u8],
) -> Result<(), FrameError> {
    stream.write_all(&frame::encode(payload)).await?;
    Ok(stream.flush().await?)
}

/// Why a frame could not be read from (or written to) a stream.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The stream ended before a whole header: the peer closed it without
    /// sending a frame.
    Closed,
    /// The stream timeout passed.
    TimedOut,
    /// The header announced more than the frame limit, or the stream ended
    /// inside the body. Counted as a decode error on inbound streams.
    Bad(DecodeError),
    /// Reading or writing failed.
    Io(std::io::Error),
}

impl FrameError {
    /// How a failed connect is reported to the core: an I/O error is
    /// [`StreamError::Connect`], anything else as by `From`.
    pub(crate) fn connecting(self) -> StreamError {
        match self {
            FrameError::Io(err) => StreamError::Connect(err.to_string()),
            err => err.into(),
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Closed => f.write_str("the stream ended before a frame"),
            FrameError::TimedOut => f.write_str("stream timed out"),
            FrameError::Bad(err) => write!(f, "bad frame: {err}"),
            FrameError::Io(err) => write!(f, "stream I/O failed: {err}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Bad(err) => Some(err),
            FrameError::Io(err) => Some(err),
            FrameError::Closed | FrameError::TimedOut => None,
        }
    }
}

impl From<frame::ReadError> for FrameError {
    fn from(err: frame::ReadError) -> Self {
        match err {
            frame::ReadError::Closed => FrameError::Closed,
            frame::ReadError::Bad(err) => FrameError::Bad(err),
        }
    }
}

impl From<std::io::Error> for FrameError {
    fn from(err: std::io::Error) -> Self {
        FrameError::Io(err)
    }
}

impl From<FrameError> for StreamError {
    /// How an outbound exchange that failed on its stream is reported to the
    /// core.
    fn from(err: FrameError) -> Self {
        match err {
            FrameError::Closed => StreamError::Closed,
            FrameError::TimedOut => StreamError::TimedOut,
            FrameError::Bad(err) => StreamError::Io(err.to_string()),
            FrameError::Io(err) => StreamError::Io(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_errors_for_the_core() {
        assert_eq!(StreamError::from(FrameError::Closed), StreamError::Closed);
        assert_eq!(
            StreamError::from(FrameError::TimedOut),
            StreamError::TimedOut
        );
        let io = std::io::Error::other("reset");
        assert_eq!(
            StreamError::from(FrameError::from(io)),
            StreamError::Io("reset".into())
        );
        assert!(matches!(
            StreamError::from(FrameError::Bad(DecodeError::Malformed)),
            StreamError::Io(_)
        ));
        // A reader's failures keep their kind: no frame at all is a closed
        // stream, a bad one is counted as a decode error.
        assert!(matches!(
            FrameError::from(frame::ReadError::Closed),
            FrameError::Closed
        ));
        assert!(matches!(
            FrameError::from(frame::ReadError::Bad(DecodeError::Malformed)),
            FrameError::Bad(DecodeError::Malformed)
        ));
    }

    #[test]
    fn frames_go_through_async_streams() {
        future::block_on(async {
            let mut written = Vec::new();
            write_frame(&mut written, b"hello").await.unwrap();
            let mut stream = &written[..];
            assert_eq!(read_frame(&mut stream, 10).await.unwrap(), b"hello");
            let mut stream = &written[..];
            assert!(matches!(
                read_frame(&mut stream, 4).await,
                Err(FrameError::Bad(DecodeError::FrameTooLarge {
                    len: 5,
                    max: 4
                }))
            ));
            assert!(matches!(
                read_frame(&mut &[][..], 4).await,
                Err(FrameError::Closed)
            ));
        });
    }
}
