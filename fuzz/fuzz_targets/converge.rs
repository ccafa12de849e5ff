//! Two nodes exchange faulty traffic, then converge in a clean exchange
//! (`kite_proto::fuzzing::run_pair`).

#![no_main]

use kite_proto::fuzzing::PairScript;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|script: PairScript| {
    kite_proto::fuzzing::run_pair(&script);
});
