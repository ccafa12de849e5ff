//! Any message round-trips through the codec, and the byte budgets the core
//! fills datagrams with match the real encoding
//! (`kite_sim::fuzzing::roundtrip`).

#![no_main]

use kite_proto::wire::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|msg: Message| {
    kite_sim::fuzzing::roundtrip(&msg);
});
