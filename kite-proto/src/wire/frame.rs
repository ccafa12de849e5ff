//! Stream framing: every stream message is a 4-byte big-endian length
//! followed by that many bytes. A stream carries one request frame and one
//! reply frame. Frames longer than the configured `max_frame_len` are refused
//! before anything is allocated for them.
//!
//! ```
//! use kite_proto::wire::frame;
//!
//! let framed = frame::encode(b"hello");
//! let header: [u8; 4] = framed[..4].try_into().unwrap();
//! assert_eq!(frame::body_len(header, 1024), Ok(5));
//! assert!(frame::body_len(header, 4).is_err());
//! ```

use crate::error::DecodeError;

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
