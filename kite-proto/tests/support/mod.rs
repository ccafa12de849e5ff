//! A tiny lossless, zero-latency network for driving a few real nodes in
//! tests. (Faults and scale are `kite-sim`'s job.)

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use kite_proto::{
    Config, Event, Node, NodeId, Output, RequestId, ResolveError, SeededRng, StreamError, StreamId,
    Timestamp,
};

pub struct Net {
    pub nodes: Vec<Node>,
    pub addrs: Vec<SocketAddr>,
    pub now: Timestamp,
    /// Every event, with the index of the node that emitted it.
    pub events: Vec<(usize, Event)>,
    /// Every datagram sent: (from, to, bytes).
    pub datagrams: Vec<(usize, SocketAddr, Vec<u8>)>,
    pub dns: BTreeMap<String, Vec<IpAddr>>,
    /// Nodes that no longer run (their packets vanish, streams are refused).
    pub crashed: BTreeSet<usize>,
    /// Datagrams into these nodes are dropped (streams still work).
    pub deaf: BTreeSet<usize>,
    streams: BTreeMap<(usize, StreamId), (usize, RequestId)>,
    next_stream: u64,
}

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1 + i as u8], 7000))
}

pub fn config(i: usize) -> Config {
    let mut c = Config::new(addr(i));
    c.node_id = Some(NodeId::new(format!("node-{i}")).unwrap());
    c
}

impl Net {
    pub fn new(n: usize, tweak: impl Fn(&mut Config)) -> Net {
        let mut net = Net {
            nodes: Vec::new(),
            addrs: Vec::new(),
            now: Timestamp::ZERO,
            events: Vec::new(),
            datagrams: Vec::new(),
            dns: BTreeMap::new(),
            crashed: BTreeSet::new(),
            deaf: BTreeSet::new(),
            streams: BTreeMap::new(),
            next_stream: 0,
        };
        for i in 0..n {
            let mut c = config(i);
            tweak(&mut c);
            net.add(c);
        }
        net
    }

    pub fn add(&mut self, config: Config) -> usize {
        let i = self.nodes.len();
        self.addrs.push(config.advertise_addr);
        let node = Node::new(config, SeededRng::from_seed_u64(1000 + i as u64), self.now).unwrap();
        self.nodes.push(node);
        i
    }

    pub fn id(&self, i: usize) -> NodeId {
        self.nodes[i].id().clone()
    }

    fn index_of(&self, addr: SocketAddr) -> Option<usize> {
        self.addrs.iter().position(|a| *a == addr)
    }

    /// Delivers every pending output until all nodes are idle.
    pub fn step(&mut self) {
        loop {
            let mut work = VecDeque::new();
            for i in 0..self.nodes.len() {
                if self.crashed.contains(&i) {
                    continue;
                }
                loop {
                    match self.nodes[i].poll_output() {
                        Output::Timeout(_) => break,
                        out => work.push_back((i, out)),
                    }
                }
            }
            if work.is_empty() {
                return;
            }
            while let Some((i, out)) = work.pop_front() {
                self.deliver(i, out);
            }
        }
    }

    fn deliver(&mut self, i: usize, out: Output) {
        let now = self.now;
        match out {
            Output::Transmit { to, payload } => {
                self.datagrams.push((i, to, payload.clone()));
                if let Some(j) = self.index_of(to)
                    && !self.crashed.contains(&j)
                    && !self.deaf.contains(&j)
                {
                    self.nodes[j].handle_datagram(now, self.addrs[i], &payload);
                }
            }
            Output::Request { id, to, payload } => match self.index_of(to) {
                Some(j) if !self.crashed.contains(&j) => {
                    let stream = StreamId(self.next_stream);
                    self.next_stream += 1;
                    self.streams.insert((j, stream), (i, id));
                    self.nodes[j].handle_request(now, stream, self.addrs[i], &payload);
                }
                _ => self.nodes[i].handle_response(
                    now,
                    id,
                    Err(StreamError::Connect("connection refused".into())),
                ),
            },
            Output::Response { id, payload } => {
                if let Some((requester, request)) = self.streams.remove(&(i, id)) {
                    let reply = payload.as_deref().ok_or(StreamError::Closed);
                    if !self.crashed.contains(&requester) {
                        self.nodes[requester].handle_response(now, request, reply);
                    }
                }
            }
            Output::Resolve { name } => {
                let answer = self
                    .dns
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| ResolveError(format!("{name}: no such name")));
                self.nodes[i].handle_resolved(now, &name, answer);
            }
            Output::Event(event) => self.events.push((i, event)),
            Output::Timeout(_) => {}
        }
    }

    /// Runs every due timeout, delivering outputs, until `d` has passed.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.step();
        loop {
            let next = (0..self.nodes.len())
                .filter(|i| !self.crashed.contains(i))
                .map(|i| self.nodes[i].next_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.nodes.len() {
                        if !self.crashed.contains(&i) && self.nodes[i].next_timeout() <= self.now {
                            self.nodes[i].handle_timeout(self.now);
                        }
                    }
                    self.step();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Events emitted by node `i`.
    pub fn events_of(&self, i: usize) -> Vec<Event> {
        self.events
            .iter()
            .filter(|(j, _)| *j == i)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Joins every node after the first through node 0 and lets it settle.
    pub fn form(&mut self) {
        for i in 1..self.nodes.len() {
            let now = self.now;
            let target = self.addrs[0].to_string();
            self.nodes[i].join(now, &[target]).unwrap();
        }
        self.run_for(Duration::from_secs(5));
    }
}
