//! A Kite node driven by an event loop of your own, over `std::net` and
//! threads, with no async runtime: the driving contract of
//! [`kite_proto::Node`], carried out whole.
//!
//! ```sh
//! cargo run -p kite-agent -- --bind 127.0.0.1:7000            # any node: kite-tokio, kite-async-std, ...
//! cargo run -p kite-examples --example custom_loop -- 127.0.0.2:7000 127.0.0.1:7000
//! ```
//!
//! binds UDP and TCP on the first address (which it also advertises), sets
//! `driver=std`, joins through the other arguments (`ip:port` or
//! `host:port`), prints every event, and leaves gracefully when stdin
//! reaches its end or a line is entered.
//!
//! One thread, the loop, owns the [`Node`] and is the only one to touch it.
//! Everything that could block runs on a thread of its own and reaches the
//! loop as an [`Input`] on one channel, which the loop waits on until the
//! node's next deadline:
//!
//! ```text
//! receive thread: datagrams ─────────────────────────────────────┐
//! accept thread: a serve thread per inbound stream, reads the    │
//!   request frame, writes the reply frame the loop sends back ───┤
//! an exchange thread per Output::Request: connect, write, read ──┤
//! a lookup thread per Output::Resolve ───────────────────────────┤
//! the application (StdKite::call): a closure run on the node ────┤
//!                                                                ▼
//!   the loop: hand the input in, carry out every output (none blocks),
//!             wait for the next input until the node's deadline
//! ```
//!
//! An exchange or a lookup done inline would stall gossip, heartbeats and
//! failure detection for up to three stream timeouts; see "Never block the
//! loop" on [`Node`].

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kite_proto::wire::frame;
use kite_proto::{
    Config, Event, Node, Output, RequestId, ResolveError, SeededRng, StreamError, StreamId,
    Timestamp,
};
use rand_core::{OsRng, TryRngCore};

/// Largest UDP payload: any datagram up to 64 KiB is accepted.
const RECV_BUFFER: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .ok_or("usage: custom_loop IP:PORT [JOIN_TARGET...]")?
        .parse()?;
    let targets: Vec<String> = args.collect();
    let mut kite = StdKite::start(Config::new(addr))?;
    kite.call(|node, _| node.upsert_local("driver", "std"))??;
    if !targets.is_empty() {
        kite.call(move |node, now| node.join(now, &targets))??;
    }
    let mut line = String::new();
    let events = kite.events();
    thread::scope(|scope| {
        scope.spawn(|| {
            // Ends on the last event: after the leave below, or if the
            // loop stops.
            for event in events {
                println!("{event:?}");
                if matches!(event, Event::LeaveCompleted { .. }) {
                    break;
                }
            }
        });
        let _ = io::stdin().read_line(&mut line);
        println!("leaving");
        if let Ok(Err(err)) = kite.call(|node, now| node.leave(now)) {
            println!("not left: {err}");
        }
    });
    kite.stop();
    Ok(())
}

/// Everything the loop waits for, from every thread.
enum Input {
    /// A datagram from the receive thread.
    Datagram { from: SocketAddr, bytes: Vec<u8> },
    /// An inbound stream's request frame, from its serve thread, which
    /// writes what comes back on `reply` (`None`: close without a reply).
    Request {
        from: SocketAddr,
        bytes: Vec<u8>,
        reply: Sender<Option<Vec<u8>>>,
    },
    /// The outcome of an `Output::Request`, from its exchange thread.
    Response {
        id: RequestId,
        result: Result<Vec<u8>, StreamError>,
    },
    /// The outcome of an `Output::Resolve`, from its lookup thread.
    Resolved {
        name: String,
        result: Result<Vec<IpAddr>, ResolveError>,
    },
    /// A command of the application: a closure run on the node.
    Call(Command),
    /// End the loop.
    Stop,
}

/// A command of the application, run on the loop with the node and the
/// current time.
type Command = Box<dyn FnOnce(&mut Node, Timestamp) + Send>;

/// A running node: the handle the application keeps. Dropping it stops the
/// node (without leaving).
pub(crate) struct StdKite {
    addr: SocketAddr,
    inputs: Sender<Input>,
    events: Option<Receiver<Event>>,
    /// The loop, the receive thread and the accept thread.
    threads: Vec<JoinHandle<()>>,
    stopped: Arc<AtomicBool>,
}

impl StdKite {
    /// Binds UDP and TCP on `config.advertise_addr` (a specific IP, not
    /// `0.0.0.0`) and starts the loop and its threads.
    pub(crate) fn start(config: Config) -> io::Result<StdKite> {
        let addr = config.advertise_addr;
        // The node's only randomness, seeded from the OS so that every
        // process draws a new id.
        let seed = OsRng
            .try_next_u64()
            .map_err(|err| io::Error::other(err.to_string()))?;
        // The node's clock: `Timestamp::ZERO` is `start`.
        let start = Instant::now();
        let node = Node::new(config, SeededRng::from_seed_u64(seed), Timestamp::ZERO)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        // UDP and TCP on the same port, the advertised one.
        let udp = UdpSocket::bind(addr)?;
        let listener = TcpListener::bind(addr)?;
        let (inputs, waiting) = mpsc::channel();
        let (events, app_events) = mpsc::channel();
        let stopped = Arc::new(AtomicBool::new(false));
        let receiving = udp.try_clone()?;
        let streams = Streams {
            timeout: node.config().stream_timeout,
            max_frame_len: node.config().limits.max_frame_len,
        };
        let driver = Driver {
            node,
            start,
            udp,
            inputs: inputs.clone(),
            waiting,
            events,
            replies: HashMap::new(),
            next_stream: 0,
            streams,
        };
        let threads = vec![
            thread::spawn(move || driver.run()),
            thread::spawn({
                let (inputs, stopped) = (inputs.clone(), Arc::clone(&stopped));
                move || receive(receiving, inputs, stopped)
            }),
            thread::spawn({
                let (inputs, stopped) = (inputs.clone(), Arc::clone(&stopped));
                move || accept(listener, inputs, stopped, streams)
            }),
        ];
        Ok(StdKite {
            addr,
            inputs,
            events: Some(app_events),
            threads,
            stopped,
        })
    }

    /// Runs `command` on the loop, with the node and the current time, and
    /// returns what it returns; the loop then carries out the outputs it
    /// caused. Fails only once the loop has stopped.
    ///
    /// ```ignore
    /// kite.call(|node, now| node.join(now, &["127.0.0.1:7000"]))??;
    /// kite.call(|node, _| node.upsert_local("rpc_addr", "127.0.0.2:9000"))??;
    /// let nodes = kite.call(|node, _| node.nodes())?;
    /// ```
    pub(crate) fn call<T: Send + 'static>(
        &self,
        command: impl FnOnce(&mut Node, Timestamp) -> T + Send + 'static,
    ) -> io::Result<T> {
        let (answer, answered) = mpsc::channel();
        let call = move |node: &mut Node, now| {
            let _ = answer.send(command(node, now));
        };
        let stopped = || io::Error::other("the node's loop has stopped");
        self.inputs
            .send(Input::Call(Box::new(call)))
            .map_err(|_| stopped())?;
        answered.recv().map_err(|_| stopped())
    }

    /// The node's events, in order (taken once; later calls panic).
    pub(crate) fn events(&mut self) -> Receiver<Event> {
        self.events.take().expect("the events were already taken")
    }

    /// Stops the loop and its threads, and waits until they have ended and
    /// the ports are free. Exchanges and inbound streams still running end
    /// on their own (within their stream timeouts), unheard.
    pub(crate) fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if self.stopped.swap(true, Ordering::Relaxed) {
            return;
        }
        let _ = self.inputs.send(Input::Stop);
        // Wake the threads blocked in `recv_from` and `accept`: they see
        // `stopped` and end.
        if let Ok(udp) = UdpSocket::bind(SocketAddr::new(self.addr.ip(), 0)) {
            let _ = udp.send_to(&[], self.addr);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for StdKite {
    fn drop(&mut self) {
        self.shut();
    }
}

/// The stream settings, read from the node's configuration.
#[derive(Clone, Copy)]
struct Streams {
    /// For each of connect, write and read (`Config::stream_timeout`).
    timeout: Duration,
    /// `Config::limits.max_frame_len`.
    max_frame_len: usize,
}

/// The loop's state: the node, its clock and where outputs go.
struct Driver {
    node: Node,
    start: Instant,
    /// Bound at the advertise port: every datagram is sent from it.
    udp: UdpSocket,
    /// Cloned into every exchange and lookup thread.
    inputs: Sender<Input>,
    waiting: Receiver<Input>,
    events: Sender<Event>,
    /// The inbound streams awaiting their `Output::Response`.
    replies: HashMap<StreamId, Sender<Option<Vec<u8>>>>,
    next_stream: u64,
    streams: Streams,
}

impl Driver {
    /// A monotonic clock, in the node's terms.
    fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.start.elapsed())
    }

    fn run(mut self) {
        loop {
            let deadline = self.carry_out();
            let now = self.now();
            if now >= deadline {
                self.node.handle_timeout(now);
                continue;
            }
            match self.waiting.recv_timeout(deadline.saturating_since(now)) {
                Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(input) => self.hand_in(input),
                // The deadline: handled at the top of the loop.
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Hands one input to the node, stamped with the current time.
    fn hand_in(&mut self, input: Input) {
        let now = self.now();
        match input {
            Input::Datagram { from, bytes } => self.node.handle_datagram(now, from, &bytes),
            Input::Request { from, bytes, reply } => {
                let stream = StreamId(self.next_stream);
                self.next_stream += 1;
                self.replies.insert(stream, reply);
                self.node.handle_request(now, stream, from, &bytes);
            }
            Input::Response { id, result } => {
                let result = result.as_deref().map_err(Clone::clone);
                self.node.handle_response(now, id, result);
            }
            Input::Resolved { name, result } => self.node.handle_resolved(now, &name, result),
            Input::Call(command) => command(&mut self.node, now),
            Input::Stop => {}
        }
    }

    /// Carries out every output, in order, until the next deadline. Nothing
    /// here blocks: exchanges and lookups go to threads of their own.
    fn carry_out(&mut self) -> Timestamp {
        loop {
            match self.node.poll_output() {
                Output::Transmit { to, payload } => {
                    // A datagram lost is for gossip to repair.
                    let _ = self.udp.send_to(&payload, to);
                }
                Output::Request { id, to, payload } => {
                    let (inputs, streams) = (self.inputs.clone(), self.streams);
                    thread::spawn(move || {
                        let result = exchange(to, &payload, streams);
                        let _ = inputs.send(Input::Response { id, result });
                    });
                }
                Output::Response { id, payload } => {
                    // The serve thread writes the frame, or closes.
                    if let Some(reply) = self.replies.remove(&id) {
                        let _ = reply.send(payload);
                    }
                }
                Output::Resolve { name } => {
                    let inputs = self.inputs.clone();
                    thread::spawn(move || {
                        let result = lookup(&name);
                        let _ = inputs.send(Input::Resolved { name, result });
                    });
                }
                Output::Event(event) => {
                    let _ = self.events.send(event);
                }
                Output::Timeout(deadline) => return deadline,
            }
        }
    }
}

/// The receive thread: every datagram goes to the loop.
fn receive(udp: UdpSocket, inputs: Sender<Input>, stopped: Arc<AtomicBool>) {
    let mut buf = vec![0; RECV_BUFFER];
    while !stopped.load(Ordering::Relaxed) {
        match udp.recv_from(&mut buf) {
            Ok((n, from)) => {
                let bytes = buf[..n].to_vec();
                if inputs.send(Input::Datagram { from, bytes }).is_err() {
                    return;
                }
            }
            // An ICMP error reported on some platforms: keep receiving.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The accept thread: each inbound stream is served on a thread of its own.
/// (A production driver also bounds how many it serves at once, as
/// kite-runtime does.)
fn accept(
    listener: TcpListener,
    inputs: Sender<Input>,
    stopped: Arc<AtomicBool>,
    streams: Streams,
) {
    for stream in listener.incoming() {
        if stopped.load(Ordering::Relaxed) {
            return;
        }
        match stream {
            Ok(stream) => {
                let inputs = inputs.clone();
                thread::spawn(move || serve(stream, inputs, streams));
            }
            // Out of file descriptors, usually: let some streams end.
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Serves one inbound stream: reads the request frame, hands it to the
/// loop, writes the reply frame it gets back (or just closes).
fn serve(mut stream: TcpStream, inputs: Sender<Input>, streams: Streams) {
    let Ok(from) = stream.peer_addr() else {
        return;
    };
    let Ok(bytes) = read_frame(&mut stream, streams) else {
        return;
    };
    let (reply, replied) = mpsc::channel();
    if inputs.send(Input::Request { from, bytes, reply }).is_err() {
        return;
    }
    if let Ok(Some(payload)) = replied.recv() {
        let _ = write_frame(&mut stream, &payload, streams);
    }
}

/// Carries out one `Output::Request`: connect, write one frame, read one,
/// each step under the stream timeout.
fn exchange(to: SocketAddr, payload: &[u8], streams: Streams) -> Result<Vec<u8>, StreamError> {
    let mut stream =
        TcpStream::connect_timeout(&to, streams.timeout).map_err(|err| match err.kind() {
            io::ErrorKind::TimedOut => StreamError::TimedOut,
            _ => StreamError::Connect(err.to_string()),
        })?;
    write_frame(&mut stream, payload, streams)?;
    read_frame(&mut stream, streams)
}

/// Reads one frame within the stream timeout, refusing one over the frame
/// limit before reading its body.
fn read_frame(stream: &mut TcpStream, streams: Streams) -> Result<Vec<u8>, StreamError> {
    let deadline = Instant::now() + streams.timeout;
    let mut reader = frame::Reader::new(streams.max_frame_len);
    loop {
        stream
            .set_read_timeout(Some(time_left(deadline)?))
            .map_err(io_error)?;
        match stream.read(reader.buf()) {
            // `ReadError` converts: no frame at all is `Closed`.
            Ok(n) => {
                if let Some(body) = reader.advance(n)? {
                    return Ok(body);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(io_error(err)),
        }
    }
}

/// Writes `payload` as one frame within the stream timeout.
fn write_frame(
    stream: &mut TcpStream,
    payload: &[u8],
    streams: Streams,
) -> Result<(), StreamError> {
    let deadline = Instant::now() + streams.timeout;
    let framed = frame::encode(payload);
    let mut rest = &framed[..];
    while !rest.is_empty() {
        stream
            .set_write_timeout(Some(time_left(deadline)?))
            .map_err(io_error)?;
        match stream.write(rest) {
            Ok(0) => return Err(StreamError::Io("the stream closed".into())),
            Ok(n) => rest = &rest[n..],
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(io_error(err)),
        }
    }
    Ok(())
}

/// What is left of a step's time, or `TimedOut`.
fn time_left(deadline: Instant) -> Result<Duration, StreamError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(StreamError::TimedOut);
    }
    Ok(left)
}

/// A socket timeout (`WouldBlock` on Unix, `TimedOut` on Windows) is
/// `TimedOut`; anything else `Io`.
fn io_error(err: io::Error) -> StreamError {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => StreamError::TimedOut,
        _ => StreamError::Io(err.to_string()),
    }
}

/// Carries out one `Output::Resolve` with the system's resolver. A failure,
/// or no address at all, is an error the node must hear about too: a join
/// through the name waits for the answer.
fn lookup(name: &str) -> Result<Vec<IpAddr>, ResolveError> {
    let addrs = (name, 0)
        .to_socket_addrs()
        .map_err(|err| ResolveError(err.to_string()))?;
    let mut ips: Vec<IpAddr> = addrs.map(|addr| addr.ip()).collect();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        return Err(ResolveError(format!("{name} has no address")));
    }
    Ok(ips)
}
