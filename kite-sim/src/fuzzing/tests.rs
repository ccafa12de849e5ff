//! Replays, under plain `cargo test`, every committed corpus file and crash
//! regression (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`, and a
//! local `fuzz/artifacts/<target>/` if present) and a few thousand inputs
//! from a seeded generator, through the functions the fuzz targets call.

use std::fs;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use kite_proto::SeededRng;
use rand_core::RngCore;

use super::grammar::{NodeScript, PairScript};
use super::seeds::{node_seeds, pair_seeds};
use super::{TARGETS, run, seeds};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every file in the corpus, regression and artifact folders of `target`.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for folder in ["corpus", "regressions", "artifacts"] {
        let Ok(dir) = fs::read_dir(fuzz_dir().join(folder).join(target)) else {
            continue;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_file() && !name.starts_with('.') && name != "README.md" {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn replay(target: &str) -> usize {
    let files = inputs(target);
    for path in &files {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            // A running campaign replaces corpus files as it shrinks them.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        eprintln!("replaying {}", path.display());
        run(target, &bytes);
    }
    eprintln!("{target}: replayed {} files", files.len());
    files.len()
}

/// `count` inputs of up to `max_len` random bytes from a fixed seed.
fn generated(target: &str, count: usize, max_len: usize) {
    let mut rng = SeededRng::from_seed_u64(0x6b69_7465);
    let mut bytes = vec![0; max_len];
    for n in 0..count {
        let len = (rng.next_u32() as usize) % (max_len + 1);
        rng.fill_bytes(&mut bytes[..len]);
        // Ask for structure: the low bit of a step's leading byte keeps a
        // `Vec` going, so set it often.
        if n % 2 == 0 {
            for b in bytes[..len].iter_mut().step_by(7) {
                *b |= 1;
            }
        }
        run(target, &bytes[..len]);
    }
}

#[test]
fn replay_decode() {
    assert!(replay("decode") >= 14, "the decode seeds are missing");
}

#[test]
fn replay_message() {
    assert!(replay("message") >= 7);
}

#[test]
fn replay_node() {
    assert!(replay("node") >= 8);
}

#[test]
fn replay_converge() {
    assert!(replay("converge") >= 2);
}

#[test]
fn replay_envelope() {
    assert!(replay("envelope") >= 11, "the envelope seeds are missing");
}

#[test]
fn generated_decode() {
    generated("decode", 5_000, 256);
}

#[test]
fn envelope_seeds_open_to_the_wire_vectors() {
    use kite_proto::SecurityMode;
    use kite_proto::wire::{self, envelope};
    let ring = super::envelope::ring(SecurityMode::Encrypted);
    let seeds = seeds("envelope");
    let sealed: Vec<_> = seeds.iter().filter(|(n, _)| n.contains("sealed")).collect();
    assert_eq!(sealed.len(), super::vectors().len() + 1);
    for (name, bytes) in sealed {
        let opened = envelope::open(&ring, bytes).unwrap_or_else(|r| panic!("{name}: {r}"));
        assert!(wire::decode(&opened).is_ok(), "{name}");
    }
}

#[test]
fn generated_envelope() {
    generated("envelope", 2_000, 256);
    // Sealed envelopes changed past the label and hint: through to the tag.
    let mut rng = SeededRng::from_seed_u64(0x7365_616c);
    for (_, seed) in seeds("envelope").into_iter().take(8) {
        let mut bytes = seed.clone();
        for _ in 0..100 {
            let at = 10 + (rng.next_u32() as usize) % (bytes.len() - 10);
            bytes[at] = rng.next_u32() as u8;
            run("envelope", &bytes);
        }
    }
}

#[test]
fn generated_message() {
    generated("message", 5_000, 512);
}

/// `count` scripts of 1 to `max_steps` steps built from random bytes.
fn scripts<K: for<'a> Arbitrary<'a>, S: for<'a> Arbitrary<'a>>(
    count: usize,
    max_steps: usize,
    mut run: impl FnMut(K, Vec<S>),
) {
    let mut rng = SeededRng::from_seed_u64(0x6675_7a7a);
    let mut bytes = vec![0; 1 << 16];
    for _ in 0..count {
        rng.fill_bytes(&mut bytes);
        let mut u = Unstructured::new(&bytes);
        let Ok(knobs) = K::arbitrary(&mut u) else {
            continue;
        };
        let steps = 1 + (rng.next_u32() as usize) % max_steps;
        let steps = (0..steps)
            .map_while(|_| S::arbitrary(&mut u).ok())
            .collect();
        run(knobs, steps);
    }
}

#[test]
fn generated_node() {
    generated("node", 1_000, 2_048);
    scripts(1_000, 200, |knobs, steps| {
        super::run_node(&NodeScript { knobs, steps });
    });
}

#[test]
fn generated_converge() {
    generated("converge", 300, 2_048);
    scripts(300, 120, |knobs, steps| {
        super::run_pair(&PairScript { knobs, steps });
    });
}

#[test]
fn seeds_build_the_scripts_they_were_written_for() {
    for (name, bytes, script) in node_seeds() {
        let built = NodeScript::arbitrary_take_rest(Unstructured::new(&bytes));
        assert_eq!(built.as_ref(), Ok(&script), "{name}");
        super::run_node(&script);
    }
    for (name, bytes, script) in pair_seeds() {
        let built = PairScript::arbitrary_take_rest(Unstructured::new(&bytes));
        assert_eq!(built.as_ref(), Ok(&script), "{name}");
        super::run_pair(&script);
    }
}

#[test]
fn committed_seeds_are_current() {
    for target in TARGETS {
        for (name, bytes) in seeds(target) {
            let path = fuzz_dir().join("corpus").join(target).join(&name);
            let committed = fs::read(&path).unwrap_or_default();
            assert!(
                committed == bytes,
                "{} is missing or stale: run `cargo test -p kite-sim --lib write_seed_corpus -- --ignored`",
                path.display()
            );
        }
    }
}

/// Writes the seed files of every target into `fuzz/corpus/<target>/`.
#[test]
#[ignore = "writes files; run by hand after changing the seeds or the input types"]
fn write_seed_corpus() {
    for target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds(target) {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}
