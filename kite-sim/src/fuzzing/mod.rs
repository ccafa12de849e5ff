//! Test support: the fuzzing harnesses, shared by the cargo-fuzz targets in
//! `fuzz/` and by this crate's unit tests, which replay every committed
//! corpus file and crash regression under plain `cargo test`. Not part of
//! the simulator's API.
//!
//! Compiled with the `fuzzing` feature (the fuzz crate enables it) and in
//! this crate's own unit tests; never in a normal build. The inputs are the
//! `arbitrary` types of [`grammar`]; `world` feeds the `node` target's
//! node, `converge` runs two nodes in the simulator; `oracle` holds
//! the single-node checks, and the checks between nodes are the
//! simulator's own invariants. Each target is one function here:
//!
//! | target | function | input |
//! | --- | --- | --- |
//! | `decode` | [`decode_bytes`] | raw bytes: a datagram, a stream message, a framed stream |
//! | `message` | [`roundtrip`] | a [`Message`](kite_proto::wire::Message) |
//! | `node` | [`run_node`] | a [`NodeScript`]: one node and a sequence of inputs |
//! | `converge` | [`run_pair`] | a [`PairScript`]: two nodes, faulty traffic, then a clean exchange |
//! | `envelope` | [`open_envelope`] | raw bytes: a received envelope under a fixed keyring, and a message to seal |
//!
//! Every function panics, with a description, when an invariant breaks;
//! [`run`] runs a target on raw fuzzer bytes the way `libfuzzer-sys` does
//! (`T::arbitrary_take_rest`).
//!
//! ```ignore
//! // With the `fuzzing` feature enabled:
//! use kite_sim::fuzzing;
//!
//! fuzzing::run("decode", &[1, 7, 1, b'a']);
//! for (name, bytes) in fuzzing::seeds("node") {
//!     fuzzing::run("node", &bytes);
//! }
//! ```

mod converge;
mod decode;
mod envelope;
pub mod grammar;
mod mutate;
mod oracle;
mod seeds;
#[cfg(test)]
mod tests;
mod world;

use core::net::SocketAddr;

use arbitrary::{Arbitrary, Unstructured};
use kite_proto::NodeId;
use kite_proto::wire::Message;

pub use converge::run_pair;
pub use decode::{decode_bytes, roundtrip};
pub use envelope::open_envelope;
pub use grammar::{NodeScript, PairScript};
pub use mutate::{Edit, Mutation};
pub use seeds::seeds;
pub use world::run_node;

/// The names of the targets, as `fuzz/fuzz_targets/<name>.rs`.
pub const TARGETS: [&str; 5] = ["decode", "message", "node", "converge", "envelope"];

/// Runs target `target` on raw fuzzer input, building typed inputs as
/// `libfuzzer-sys` does. Inputs that do not build are skipped, as there.
///
/// # Panics
///
/// When an invariant breaks, or for an unknown target name.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "decode" => decode_bytes(data),
        "message" => {
            if let Ok(msg) = Message::arbitrary_take_rest(Unstructured::new(data)) {
                roundtrip(&msg);
            }
        }
        "node" => {
            if let Ok(script) = NodeScript::arbitrary_take_rest(Unstructured::new(data)) {
                run_node(&script);
            }
        }
        "converge" => {
            if let Ok(script) = PairScript::arbitrary_take_rest(Unstructured::new(data)) {
                run_pair(&script);
            }
        }
        "envelope" => open_envelope(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// The id of harness node `i`: `n0` is the node under test.
fn id(i: usize) -> NodeId {
    NodeId::new(format!("n{i}")).unwrap_or_else(|e| panic!("{e}"))
}

/// The address of harness node `i`: `127.0.0.<i+1>:7000`, the address of
/// simulator host `i`.
fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1 + i as u8], 7000))
}

/// The committed wire test vectors (`kite-proto/tests/vectors.txt`): name
/// and bytes.
pub fn vectors() -> Vec<(&'static str, Vec<u8>)> {
    include_str!("../../../kite-proto/tests/vectors.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(' '))
        .map(|(name, hex)| {
            let bytes = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            (name, bytes)
        })
        .collect()
}
