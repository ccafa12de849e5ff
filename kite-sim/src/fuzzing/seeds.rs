//! Seed inputs for every target, built from the committed wire test
//! vectors. `fuzz/corpus/<target>/seed-*` holds them (written by the
//! ignored test `write_seed_corpus`); the unit tests also run them directly.
//!
//! Typed targets read their input with `arbitrary`, so a seed is written in
//! the byte layout `arbitrary` 1.x reads: integers little-endian, a bool
//! as the low bit of a byte, an enum variant as a `u32` scaled onto the
//! variant count, and each element of a `Vec` preceded by a `1` byte
//! (a `0` ends it). The unit tests check that every seed builds the script
//! it was written for.

use kite_proto::wire::frame;

use super::grammar::{
    Fault, HelperAction, Key, NodeKnobs, NodeScript, NodeStep, PairKnobs, PairScript, PairStep,
    Reply, Served, Value,
};
use super::mutate::Mutation;
use super::vectors;

/// Variant counts of the enums seeds are written in.
const NODE_STEPS: u32 = 15;
const PAIR_STEPS: u32 = 7;
const MUTATIONS: u32 = 7;
const REPLIES: u32 = 5;
const HELPER_ACTIONS: u32 = 5;
const KEYS: u32 = 3;
const VALUES: u32 = 2;
const FAULTS: u32 = 4;
const SERVED: u32 = 3;

/// Bytes in the layout `arbitrary` reads.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    /// Variant `index` of an enum of `count` variants.
    fn tag(&mut self, index: u32, count: u32) -> &mut Self {
        let v = ((u64::from(index) << 32).div_ceil(u64::from(count))) as u32;
        self.u32(v)
    }
    /// A `Vec<u8>` that is not the last field.
    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for b in bytes {
            self.u8(1).u8(*b);
        }
        self.u8(0)
    }
    fn no_mutation(&mut self) -> &mut Self {
        self.tag(0, MUTATIONS)
    }
    fn key(&mut self, n: u8) -> (&mut Self, Key) {
        self.tag(0, KEYS).u8(n);
        (self, Key::Small(n))
    }
    fn fill(&mut self, letter: u8, len: u16) -> Value {
        self.tag(1, VALUES).u8(letter).u16(len);
        Value::Fill { letter, len }
    }
}

/// Builds a node script and its bytes side by side.
struct NodeSeed {
    enc: Enc,
    steps: Vec<NodeStep>,
}

impl NodeSeed {
    fn new(knobs: &NodeKnobs) -> NodeSeed {
        let mut enc = Enc::default();
        enc.u64(knobs.seed)
            .u32(knobs.start)
            .u16(knobs.packet)
            .u8(knobs.max_nodes)
            .u8(knobs.key_len)
            .u16(knobs.value_len)
            .u16(knobs.state_slack)
            .bool(knobs.large_frame)
            .u8(knobs.compact)
            .u8(knobs.suspicion)
            .u8(knobs.expiry_secs)
            .u8(knobs.fanout);
        NodeSeed {
            enc,
            steps: Vec::new(),
        }
    }
    fn step(&mut self, index: u32) -> &mut Enc {
        self.enc.u8(1).tag(index, NODE_STEPS)
    }
    fn vector(&mut self, index: u8, request: bool) {
        self.step(2).u8(index).no_mutation().bool(request);
        self.steps.push(NodeStep::Vector {
            index,
            mutation: Mutation::None,
            request,
        });
    }
    fn relay(&mut self, pick: u8) {
        self.step(4).u8(pick).no_mutation().bool(false);
        self.steps.push(NodeStep::Relay {
            pick,
            mutation: Mutation::None,
            twice: false,
        });
    }
    fn respond(&mut self, pick: u8) {
        self.step(5).u8(pick).tag(0, REPLIES).no_mutation();
        self.steps.push(NodeStep::Respond {
            pick,
            reply: Reply::Honest(Mutation::None),
        });
    }
    fn tick(&mut self) {
        self.step(9);
        self.steps.push(NodeStep::Tick);
    }
    fn upsert(&mut self, key: u8, letter: u8, len: u16) {
        self.step(10);
        let (enc, key) = self.enc.key(key);
        let value = enc.fill(letter, len);
        self.steps.push(NodeStep::Upsert { key, value });
    }
    fn helper(&mut self, second: bool, action: u32) {
        self.step(14).bool(second).tag(action, HELPER_ACTIONS);
        let action = match action {
            3 => HelperAction::Join,
            _ => HelperAction::Leave,
        };
        self.steps.push(NodeStep::Helper { second, action });
    }
    fn helper_upsert(&mut self, second: bool, key: u8, letter: u8, len: u16) {
        self.step(14).bool(second).tag(0, HELPER_ACTIONS);
        let (enc, key) = self.enc.key(key);
        let value = enc.fill(letter, len);
        self.steps.push(NodeStep::Helper {
            second,
            action: HelperAction::Upsert { key, value },
        });
    }
    fn finish(mut self, knobs: NodeKnobs) -> (Vec<u8>, NodeScript) {
        self.enc.u8(0);
        let script = NodeScript {
            knobs,
            steps: self.steps,
        };
        (self.enc.0, script)
    }
}

fn node_knobs(packet: u16) -> NodeKnobs {
    NodeKnobs {
        seed: 7,
        start: 0,
        packet,
        max_nodes: 7,
        key_len: 15,
        value_len: 1023,
        state_slack: 4096,
        large_frame: false,
        compact: 2,
        suspicion: 3,
        expiry_secs: 29,
        fanout: 0,
    }
}

/// Node seeds with the scripts they must build.
pub(super) fn node_seeds() -> Vec<(String, Vec<u8>, NodeScript)> {
    let mut out = Vec::new();
    for (i, (name, _)) in vectors().iter().enumerate() {
        let knobs = node_knobs(1);
        let mut seed = NodeSeed::new(&knobs);
        seed.vector(i as u8, false);
        seed.vector(i as u8, true);
        seed.tick();
        seed.respond(0);
        let (bytes, script) = seed.finish(knobs);
        out.push((format!("seed-vector-{name}"), bytes, script));
    }
    // Two honest helpers join, write (one value too large for a datagram)
    // and gossip with the node.
    let knobs = node_knobs(0);
    let mut seed = NodeSeed::new(&knobs);
    seed.upsert(1, 0, 10);
    seed.helper_upsert(false, 2, 1, 700);
    seed.helper(false, 3);
    seed.relay(0);
    seed.helper_upsert(true, 3, 2, 20);
    seed.helper(true, 3);
    seed.relay(0);
    for _ in 0..6 {
        seed.tick();
        seed.relay(0);
        seed.respond(0);
        seed.relay(1);
    }
    seed.helper(false, 4);
    seed.relay(0);
    let (bytes, script) = seed.finish(knobs);
    out.push(("seed-helpers".to_owned(), bytes, script));
    out
}

/// Builds a pair script and its bytes side by side.
struct PairSeed {
    enc: Enc,
    steps: Vec<PairStep>,
}

impl PairSeed {
    fn new(knobs: &PairKnobs) -> PairSeed {
        let mut enc = Enc::default();
        enc.u64(knobs.seed)
            .u16(knobs.packet)
            .u8(knobs.compact)
            .u8(knobs.suspicion)
            .bool(knobs.flush_stale);
        PairSeed {
            enc,
            steps: Vec::new(),
        }
    }
    fn step(&mut self, index: u32) -> &mut Enc {
        self.enc.u8(1).tag(index, PAIR_STEPS)
    }
    fn upsert(&mut self, second: bool, key: u8, letter: u8, len: u16) {
        self.step(0).bool(second);
        let (enc, key) = self.enc.key(key);
        let value = enc.fill(letter, len);
        self.steps.push(PairStep::Upsert { second, key, value });
    }
    fn delete(&mut self, second: bool, key: u8) {
        self.step(1).bool(second);
        let (_, key) = self.enc.key(key);
        self.steps.push(PairStep::Delete { second, key });
    }
    fn advance(&mut self, millis: u16) {
        self.step(2).u16(millis);
        self.steps.push(PairStep::Advance { millis });
    }
    fn deliver(&mut self, pick: u8, fault: u32) {
        self.step(3).u8(pick).tag(fault, FAULTS);
        let fault = match fault {
            0 => Fault::Deliver,
            1 => Fault::Drop,
            _ => Fault::Duplicate,
        };
        self.steps.push(PairStep::Deliver { pick, fault });
    }
    fn serve(&mut self, pick: u8) {
        self.step(4).u8(pick).tag(0, SERVED).no_mutation();
        self.steps.push(PairStep::Serve {
            pick,
            served: Served::Serve(Mutation::None),
        });
    }
    fn garbage(&mut self, second: bool, bytes: &[u8]) {
        self.step(6).bool(second).bytes(bytes);
        self.steps.push(PairStep::Garbage {
            second,
            bytes: bytes.to_vec(),
        });
    }
    fn finish(mut self, knobs: PairKnobs) -> (Vec<u8>, PairScript) {
        self.enc.u8(0);
        let script = PairScript {
            knobs,
            steps: self.steps,
        };
        (self.enc.0, script)
    }
}

/// Pair seeds with the scripts they must build.
pub(super) fn pair_seeds() -> Vec<(String, Vec<u8>, PairScript)> {
    let knobs = |packet| PairKnobs {
        seed: 3,
        packet,
        compact: 2,
        suspicion: 2,
        flush_stale: true,
    };
    let mut out = Vec::new();
    // A stranger sends every vector to both nodes while they gossip.
    let mut seed = PairSeed::new(&knobs(0));
    seed.serve(0);
    for (_, bytes) in vectors() {
        seed.garbage(false, &bytes);
        seed.garbage(true, &bytes);
    }
    let (bytes, script) = seed.finish(knobs(0));
    out.push(("seed-vectors".to_owned(), bytes, script));
    // Writes, a large value, deletes (compaction), loss and duplication.
    let mut seed = PairSeed::new(&knobs(300));
    seed.serve(0);
    seed.upsert(false, 0, 0, 10);
    seed.upsert(true, 1, 1, 2000);
    seed.upsert(false, 2, 2, 5);
    seed.delete(false, 0);
    seed.delete(false, 2);
    for round in 0..8u8 {
        seed.advance(550);
        seed.deliver(round, u32::from(round % 3));
        seed.deliver(0, 0);
        seed.serve(0);
        seed.deliver(1, 0);
    }
    let (bytes, script) = seed.finish(knobs(300));
    out.push(("seed-faults".to_owned(), bytes, script));
    out
}

/// Seeds for `target` (see [`super::TARGETS`]): file name and bytes.
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    match target {
        "decode" => vectors()
            .into_iter()
            .flat_map(|(name, bytes)| {
                let framed = frame::encode(&bytes);
                [
                    (format!("seed-{name}"), bytes),
                    (format!("seed-{name}-framed"), framed),
                ]
            })
            .collect(),
        // The vectors' bytes read as `arbitrary` data: no meaning, but a
        // start.
        "message" => vectors()
            .into_iter()
            .map(|(name, bytes)| (format!("seed-{name}"), bytes))
            .collect(),
        "node" => node_seeds().into_iter().map(|(n, b, _)| (n, b)).collect(),
        "converge" => pair_seeds().into_iter().map(|(n, b, _)| (n, b)).collect(),
        "envelope" => super::envelope::envelope_seeds(),
        _ => Vec::new(),
    }
}
