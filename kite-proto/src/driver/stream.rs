//! Reading one length-prefixed frame (see [`frame`]) from a stream without
//! doing the reading: the adapter reads into [`FrameReader::buf`] and reports
//! how many bytes arrived, so both adapters apply the same limit and tell
//! the same failures apart.

use core::fmt;

use crate::error::{DecodeError, StreamError};
use crate::wire::frame;

/// Most bytes of a frame body allocated before they arrive, so a peer that
/// announces a large frame and sends little costs little memory.
const CHUNK: usize = 64 * 1024;

/// Reads one frame: a header, then a body of at most `max_frame_len`
/// bytes, allocating only as the bytes arrive. Once it has returned a body
/// it starts on the next frame.
///
/// ```
/// use kite_proto::driver::{FrameError, FrameReader};
/// use kite_proto::wire::frame;
///
/// let mut input: &[u8] = &frame::encode(b"hello");
/// let mut reader = FrameReader::new(1024);
/// let body = loop {
///     // An adapter reads from its stream here.
///     let buf = reader.buf();
///     let n = buf.len().min(input.len()).min(3);
///     buf[..n].copy_from_slice(&input[..n]);
///     input = &input[n..];
///     if let Some(body) = reader.advance(n)? {
///         break body;
///     }
/// };
/// assert_eq!(body, b"hello");
/// assert!(matches!(reader.advance(0), Err(FrameError::Closed)));
/// # Ok::<(), FrameError>(())
/// ```
#[derive(Debug)]
pub struct FrameReader {
    max: usize,
    header: [u8; frame::HEADER_LEN],
    /// Bytes of the header, or of the body once the header is complete.
    filled: usize,
    /// The body and its announced length, once the header is complete.
    body: Option<(Vec<u8>, usize)>,
}

impl FrameReader {
    /// A reader refusing bodies over `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        FrameReader {
            max: max_frame_len,
            header: [0; frame::HEADER_LEN],
            filled: 0,
            body: None,
        }
    }

    /// Where the next read goes; never empty.
    pub fn buf(&mut self) -> &mut [u8] {
        match &mut self.body {
            None => &mut self.header[self.filled..],
            Some((body, len)) => {
                body.resize((*len).min(self.filled + CHUNK), 0);
                &mut body[self.filled..]
            }
        }
    }

    /// `n` bytes were read into [`buf`](FrameReader::buf); `0` means the
    /// stream ended. Returns the body once it is complete.
    pub fn advance(&mut self, n: usize) -> Result<Option<Vec<u8>>, FrameError> {
        if n == 0 {
            return Err(match self.body {
                None => FrameError::Closed,
                Some(_) => FrameError::Bad(DecodeError::Malformed),
            });
        }
        self.filled += n;
        if self.body.is_none() {
            if self.filled < frame::HEADER_LEN {
                return Ok(None);
            }
            let len = frame::body_len(self.header, self.max).map_err(FrameError::Bad)?;
            self.body = Some((Vec::new(), len));
            self.filled = 0;
        }
        match &mut self.body {
            Some((body, len)) if self.filled == *len => {
                let body = core::mem::take(body);
                *self = FrameReader::new(self.max);
                Ok(Some(body))
            }
            _ => Ok(None),
        }
    }
}

/// Why a frame could not be read from (or written to) a stream.
#[derive(Debug)]
pub enum FrameError {
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
    ///
    /// ```
    /// use kite_proto::StreamError;
    /// use kite_proto::driver::FrameError;
    ///
    /// let refused = FrameError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    /// assert!(matches!(refused.connecting(), StreamError::Connect(_)));
    /// assert_eq!(FrameError::TimedOut.connecting(), StreamError::TimedOut);
    /// ```
    pub fn connecting(self) -> StreamError {
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

    /// Feeds `input` in pieces of `step` bytes; the outcome of the last
    /// `advance`, or of the end of stream.
    fn read(input: &[u8], step: usize, max: usize) -> Result<Vec<u8>, FrameError> {
        let mut reader = FrameReader::new(max);
        let mut rest = input;
        loop {
            let buf = reader.buf();
            assert!(!buf.is_empty());
            let n = buf.len().min(rest.len()).min(step);
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            if let Some(body) = reader.advance(n)? {
                return Ok(body);
            }
        }
    }

    #[test]
    fn frames_are_read_whatever_the_pieces() {
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        for step in [1, 3, 4, 5, 1000, usize::MAX] {
            assert_eq!(read(&frame::encode(b"abc"), step, 10).unwrap(), b"abc");
            assert_eq!(read(&frame::encode(b""), step, 10).unwrap(), b"");
            assert_eq!(read(&frame::encode(&big), step, 1 << 20).unwrap(), big);
        }
    }

    #[test]
    fn failures_are_told_apart() {
        assert!(matches!(read(&[], 4, 10), Err(FrameError::Closed)));
        assert!(matches!(read(&[0, 0], 4, 10), Err(FrameError::Closed)));
        let too_large = read(&frame::encode(b"eleven byte"), 4, 10);
        assert!(matches!(
            too_large,
            Err(FrameError::Bad(DecodeError::FrameTooLarge {
                len: 11,
                max: 10
            }))
        ));
        let mut short = frame::encode(b"abcdef");
        short.truncate(7);
        assert!(matches!(
            read(&short, 2, 10),
            Err(FrameError::Bad(DecodeError::Malformed))
        ));
    }

    #[test]
    fn a_huge_announced_frame_allocates_only_what_arrives() {
        let mut reader = FrameReader::new(usize::MAX);
        reader.buf().copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(reader.advance(4).unwrap().is_none());
        assert_eq!(reader.buf().len(), CHUNK);
    }

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
    }
}
