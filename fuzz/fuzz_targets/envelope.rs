//! Any bytes opened as a datagram or stream frame under a fixed keyring in
//! every security mode, fed to a node under it, and sealed and opened again
//! (`kite_sim::fuzzing::open_envelope`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kite_sim::fuzzing::open_envelope(data);
});
