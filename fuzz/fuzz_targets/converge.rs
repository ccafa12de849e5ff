//! Two nodes exchange faulty traffic, then converge in a clean exchange
//! in the simulator (`kite_sim::fuzzing::run_pair`).

#![no_main]

use kite_sim::fuzzing::PairScript;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|script: PairScript| {
    kite_sim::fuzzing::run_pair(&script);
});
