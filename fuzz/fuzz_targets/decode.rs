//! Any bytes as a datagram, a stream message and a framed stream, and fed
//! to a fresh node (`kite_sim::fuzzing::decode_bytes`). This binary also
//! counts heap use: decoding may never hold more than a constant factor of
//! the input (no length read off the wire is trusted for allocation).

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;

/// Bytes of heap a decode may hold per input byte (a 2-byte update
/// decodes to a 64-byte value, in a vector that may have doubled), plus a
/// constant.
const PER_INPUT_BYTE: usize = 128;
const CONSTANT: usize = 4096;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only
// the byte counts are recorded.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count the old and new blocks as both live while moving.
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let decoded = kite_proto::wire::decode(data);
    let held = PEAK.load(Ordering::Relaxed) - base;
    drop(decoded);
    assert!(
        held <= PER_INPUT_BYTE * data.len() + CONSTANT,
        "decoding {} bytes held {held} bytes of heap",
        data.len()
    );
    kite_sim::fuzzing::decode_bytes(data);
});
