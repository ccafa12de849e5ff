//! kite-proto stays pure: no clock, no OS randomness, no sockets, no threads,
//! no runtime, in its sources or its dependencies.

use std::fs;
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn sources_read_no_clock_and_open_no_socket() {
    let forbidden = [
        "Instant::now",
        "SystemTime",
        "thread_rng",
        "OsRng",
        "getrandom",
        "std::net::UdpSocket",
        "std::net::TcpStream",
        "std::net::TcpListener",
        "std::thread",
        "tokio::",
        "async_std::",
        "smol::",
        "async fn",
        ".await",
    ];
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10);
    for (path, text) in files {
        for word in forbidden {
            assert!(!text.contains(word), "{path} mentions {word}");
        }
    }
}

#[test]
fn dependencies_are_pure() {
    let manifest =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for line in deps
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let name = line.split(['=', '.']).next().unwrap().trim();
        assert!(
            ["serde", "postcard", "rand_core", "arbitrary"].contains(&name),
            "unexpected dependency {name}"
        );
    }
    assert!(
        !deps.contains("os_rng"),
        "rand_core must not pull in OS randomness"
    );
}
