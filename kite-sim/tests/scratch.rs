use std::time::{Duration, Instant};
use kite_sim::{InvariantConfig, Sim};
#[test]
#[ignore]
fn scratch() {
    let n: usize = std::env::var("N").map_or(300, |s| s.parse().unwrap());
    let p: usize = std::env::var("P").map_or(1400, |s| s.parse().unwrap());
    let mut sim = Sim::builder(1).node_config(move |c| c.max_packet_size = p)
        .invariants(InvariantConfig { sweep_every: None, events: true }).record_events(false).build();
    let hosts = sim.add_nodes(n);
    let seed = hosts[0].addr().to_string();
    for h in &hosts[1..] { sim.join(*h, &[&seed]).unwrap(); }
    let wall = Instant::now();
    loop {
        sim.run_for(Duration::from_secs(10)).unwrap();
        let min = hosts.iter().map(|h| sim.node(*h).unwrap().nodes().len()).min().unwrap();
        if min == n { break; }
    }
    println!("formed at {:?} wall {:.1}s", sim.now().as_duration(), wall.elapsed().as_secs_f64());
    let wall = Instant::now();
    sim.run_for(Duration::from_secs(50)).unwrap();
    println!("100 rounds wall {:.1}s dgrams/node/round {:.2} bytes/node/round {:.0}", wall.elapsed().as_secs_f64(),
        sim.metrics().datagrams() as f64 / n as f64 / (sim.now().as_duration().as_secs_f64()*2.0),
        sim.metrics().datagram_bytes() as f64 / n as f64 / (sim.now().as_duration().as_secs_f64()*2.0));
}
