//! Stream framing: every stream message is a 4-byte big-endian length
//! ([`HEADER_LEN`]) followed by that many bytes. A stream carries one
//! request frame and one reply frame. Frames longer than the configured
//! `max_frame_len` are refused before anything is allocated for them.
//!
//! A driver writes [`encode`]'s output whole and reads with a [`Reader`]
//! (or checks the header itself with [`body_len`]):
//!
//! ```
//! use kite_proto::wire::frame;
//!
//! let framed = frame::encode(b"hello");
//! let header: [u8; 4] = framed[..4].try_into().unwrap();
//! assert_eq!(frame::body_len(header, 1024), Ok(5));
//! assert!(frame::body_len(header, 4).is_err());
//! ```

use core::fmt;

use crate::error::{DecodeError, StreamError};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// `payload` with its length prefix. Payloads the core emits are always
/// within the configured frame limit.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The body length a frame header announces, checked against `max`.
pub fn body_len(header: [u8; HEADER_LEN], max: usize) -> Result<usize, DecodeError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(DecodeError::FrameTooLarge { len, max });
    }
    Ok(len)
}

/// Most bytes of a frame body allocated before they arrive, so a peer that
/// announces a large frame and sends little costs little memory.
const CHUNK: usize = 64 * 1024;

/// Reads one frame from a byte stream as its bytes arrive, without doing
/// any I/O itself: read into [`buf`](Reader::buf), then tell
/// [`advance`](Reader::advance) how many bytes came (0 at the end of the
/// stream). The header is checked against the limit before any of the
/// body is read, and the body is allocated only as its bytes arrive.
/// Once it has returned a body it starts on the next frame.
///
/// Over a blocking `std::io::Read` (a `TcpStream` with a read timeout):
///
/// ```
/// use std::io::Read;
/// use kite_proto::wire::frame;
///
/// fn read_frame(stream: &mut impl Read, max_frame_len: usize) -> std::io::Result<Vec<u8>> {
///     let mut reader = frame::Reader::new(max_frame_len);
///     loop {
///         let n = stream.read(reader.buf())?;
///         if let Some(body) = reader.advance(n).map_err(std::io::Error::other)? {
///             return Ok(body);
///         }
///     }
/// }
///
/// let bytes = frame::encode(b"hello");
/// assert_eq!(read_frame(&mut &bytes[..], 1024)?, b"hello");
/// assert!(read_frame(&mut &bytes[..], 4).is_err()); // over the limit
/// assert!(read_frame(&mut &bytes[..6], 1024).is_err()); // cut short
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Reader {
    max: usize,
    header: [u8; HEADER_LEN],
    /// Bytes of the header, or of the body once the header is complete.
    filled: usize,
    /// The body and its announced length, once the header is complete.
    body: Option<(Vec<u8>, usize)>,
}

impl Reader {
    /// A reader refusing bodies over `max_frame_len` bytes (the node's
    /// `config().limits.max_frame_len`).
    pub fn new(max_frame_len: usize) -> Self {
        Reader {
            max: max_frame_len,
            header: [0; HEADER_LEN],
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

    /// `n` bytes were read into [`buf`](Reader::buf); `0` means the stream
    /// ended. Returns the body once it is complete.
    pub fn advance(&mut self, n: usize) -> Result<Option<Vec<u8>>, ReadError> {
        if n == 0 {
            return Err(match self.body {
                None => ReadError::Closed,
                Some(_) => ReadError::Bad(DecodeError::Malformed),
            });
        }
        self.filled += n;
        if self.body.is_none() {
            if self.filled < HEADER_LEN {
                return Ok(None);
            }
            let len = body_len(self.header, self.max).map_err(ReadError::Bad)?;
            self.body = Some((Vec::new(), len));
            self.filled = 0;
        }
        match &mut self.body {
            Some((body, len)) if self.filled == *len => {
                let body = core::mem::take(body);
                *self = Reader::new(self.max);
                Ok(Some(body))
            }
            _ => Ok(None),
        }
    }
}

/// Why a [`Reader`] could not read a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The stream ended before a whole header: the peer closed it without
    /// sending a frame.
    Closed,
    /// The header announced more than the frame limit
    /// ([`DecodeError::FrameTooLarge`]), or the stream ended inside the
    /// body ([`DecodeError::Malformed`]).
    Bad(DecodeError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the stream ended before a frame"),
            ReadError::Bad(err) => write!(f, "bad frame: {err}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Bad(err) => Some(err),
            ReadError::Closed => None,
        }
    }
}

impl From<ReadError> for StreamError {
    /// How a reply that could not be read is reported to the core
    /// ([`Node::handle_response`](crate::Node::handle_response)): no frame at
    /// all is [`StreamError::Closed`], a bad one [`StreamError::Io`].
    fn from(err: ReadError) -> Self {
        match err {
            ReadError::Closed => StreamError::Closed,
            ReadError::Bad(err) => StreamError::Io(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; the outcome of the last
    /// `advance`, or of the end of stream.
    fn read(input: &[u8], step: usize, max: usize) -> Result<Vec<u8>, ReadError> {
        let mut reader = Reader::new(max);
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
            assert_eq!(read(&encode(b"abc"), step, 10).unwrap(), b"abc");
            assert_eq!(read(&encode(b""), step, 10).unwrap(), b"");
            assert_eq!(read(&encode(&big), step, 1 << 20).unwrap(), big);
        }
    }

    #[test]
    fn a_reader_starts_on_the_next_frame() {
        let mut two = encode(b"one");
        two.extend(encode(b"two"));
        let mut reader = Reader::new(10);
        let mut bodies = Vec::new();
        for byte in two {
            reader.buf()[0] = byte;
            bodies.extend(reader.advance(1).unwrap());
        }
        assert_eq!(bodies, [b"one", b"two"]);
    }

    #[test]
    fn failures_are_told_apart() {
        assert_eq!(read(&[], 4, 10), Err(ReadError::Closed));
        assert_eq!(read(&[0, 0], 4, 10), Err(ReadError::Closed));
        assert_eq!(
            read(&encode(b"eleven byte"), 4, 10),
            Err(ReadError::Bad(DecodeError::FrameTooLarge {
                len: 11,
                max: 10
            }))
        );
        let mut short = encode(b"abcdef");
        short.truncate(7);
        assert_eq!(
            read(&short, 2, 10),
            Err(ReadError::Bad(DecodeError::Malformed))
        );
    }

    #[test]
    fn a_huge_announced_frame_allocates_only_what_arrives() {
        let mut reader = Reader::new(usize::MAX);
        reader.buf().copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(reader.advance(4).unwrap().is_none());
        assert_eq!(reader.buf().len(), CHUNK);
    }

    #[test]
    fn read_errors_for_the_core() {
        assert_eq!(StreamError::from(ReadError::Closed), StreamError::Closed);
        let bad = ReadError::Bad(DecodeError::Malformed);
        assert!(matches!(StreamError::from(bad), StreamError::Io(_)));
    }
}
