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
        // The code only: comments and doc comments may show how a driver
        // uses a clock, threads and sockets (see `Node`'s contract).
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for word in forbidden {
            assert!(!code.contains(word), "{path} mentions {word}");
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
            [
                "serde",
                "postcard",
                "rand_core",
                "arbitrary",
                "chacha20poly1305"
            ]
            .contains(&name),
            "unexpected dependency {name}"
        );
        // The AEAD crate's defaults draw nonces and keys from the OS
        // (`getrandom`); the core draws its nonces from the injected RNG.
        if name == "chacha20poly1305" {
            assert!(line.contains("default-features = false"), "{line}");
            assert!(
                !line.contains("getrandom") && !line.contains("rand_core"),
                "{line}"
            );
        }
    }
    assert!(
        !deps.contains("os_rng"),
        "rand_core must not pull in OS randomness"
    );
}
