//! One node fed an arbitrary sequence of inputs (datagrams, stream requests
//! and replies, DNS answers, time, local writes, join and leave, honest
//! helpers' traffic mutated), its invariants checked after every step
//! (`kite_sim::fuzzing::run_node`).

#![no_main]

use kite_sim::fuzzing::NodeScript;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|script: NodeScript| {
    kite_sim::fuzzing::run_node(&script);
});
