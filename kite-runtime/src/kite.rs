//! [`Kite`]: a running node, the handle the application holds.

use core::fmt;
use core::marker::PhantomData;
use core::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use kite_proto::{
    JoinError, Key, KeyHint, LeaveError, LocalStateError, NodeId, NodeView, SecurityError,
    SecurityMode, Stats,
};
use rand_core::{OsRng, TryRngCore};
use tracing::{info, warn};

use crate::dns::resolver;
use crate::events::EventStream;
use crate::options::{Options, StartError};
use crate::runtime::{Runtime, UdpSocket};
use crate::shared::Shared;
use crate::tasks::{Io, accept, drive, receive};

/// A running Kite node on runtime `R`. `kite-tokio` and `kite-async-std`
/// name it `Kite` for their runtime.
///
/// Dropping it stops the node as [`shutdown`](Kite::shutdown) does, without
/// waiting: its tasks, and the sockets they hold, end the next time the
/// runtime polls them. Share it between tasks with an `Arc`.
pub struct Kite<R: Runtime> {
    shared: Arc<Shared>,
    /// Closed to stop every task of the node.
    stop: Sender<()>,
    /// Closes once every task has ended; taken by the first `shutdown`.
    running: Mutex<Option<Receiver<()>>>,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> fmt::Debug for Kite<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kite")
            .field("id", self.local_id())
            .field("addr", &self.advertise_addr())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime + Default> Kite<R> {
    /// Binds UDP and TCP on the bind address, and starts the node on the
    /// runtime `R` (see [`start_on`](Kite::start_on)). It knows no other
    /// node until [`join`](Kite::join) is called, or until another node
    /// joins it.
    pub async fn start(options: Options) -> Result<Self, StartError> {
        Self::start_on(R::default(), options).await
    }
}

impl<R: Runtime> Kite<R> {
    /// Binds UDP and TCP on the bind address, and starts the node's tasks on
    /// `runtime`: the driver task (the only one that drains the core, with
    /// one timer set to the core's next deadline), the UDP receive loop, and
    /// the TCP accept loop (one task per inbound stream, at most
    /// [`MAX_INBOUND_STREAMS`](crate::MAX_INBOUND_STREAMS) at once).
    pub async fn start_on(runtime: R, options: Options) -> Result<Self, StartError> {
        options.validate()?;
        let bind = options.bind_addr;
        let bind_error = |protocol| {
            move |source| StartError::Bind {
                addr: bind,
                protocol,
                source,
            }
        };
        let udp = runtime.bind_udp(bind).map_err(bind_error("UDP"))?;
        let bound = udp.local_addr().map_err(bind_error("UDP"))?;
        let listener = runtime.listen_tcp(bound).map_err(bind_error("TCP"))?;
        let interfaces = match options.needs_interfaces(bound) {
            true => interfaces(),
            false => Vec::new(),
        };
        let seed = OsRng
            .try_next_u64()
            .map_err(|err| StartError::Entropy(err.to_string()))?;
        let config = options.core_config(options.advertise_for(bound, &interfaces));
        // The tasks' stream settings come from the core's configuration,
        // like a custom loop's (see `kite_proto::Node`).
        let stream_timeout = config.stream_timeout;
        let max_frame_len = config.limits.max_frame_len;
        let (shared, woken) = Shared::new(config, options.watchers, seed, Instant::now())?;
        let shared = Arc::new(shared);
        let (stop, stopped) = async_channel::bounded(1);
        let (running, ended) = async_channel::bounded(1);
        let span = tracing::info_span!("kite", node = %shared.local_id());
        let io = Arc::new(Io {
            resolver: resolver(runtime.clone(), &options.name_servers),
            runtime,
            shared: Arc::clone(&shared),
            stream_timeout,
            max_frame_len,
            stopped,
            running,
            span: span.clone(),
            serving: AtomicUsize::new(0),
        });
        let udp = Arc::new(udp);
        io.spawn(drive(Arc::clone(&io), Arc::clone(&udp), woken));
        io.spawn(receive(Arc::clone(&io), udp));
        io.spawn(accept(Arc::clone(&io), listener));
        span.in_scope(|| info!(%bound, advertise = %shared.advertise_addr(), "started"));
        Ok(Kite {
            shared,
            stop,
            running: Mutex::new(Some(ended)),
            runtime: PhantomData,
        })
    }

    /// This node's id.
    pub fn local_id(&self) -> &NodeId {
        self.shared.local_id()
    }

    /// The address other nodes reach this node at (UDP and TCP).
    pub fn advertise_addr(&self) -> SocketAddr {
        self.shared.advertise_addr()
    }

    /// Snapshot of the local node.
    pub fn local_node(&self) -> NodeView {
        self.shared.local_node()
    }

    /// Snapshot of one node (the local one included), if known.
    pub fn node(&self, id: &NodeId) -> Option<NodeView> {
        self.shared.node(id)
    }

    /// Snapshots of every known node, the local one first, then by id.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.shared.nodes()
    }

    /// Counters since start (unreadable inbound stream frames count as
    /// decode errors).
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Sets a key of the local state; every node sees it within a few
    /// gossip rounds. Setting a key to its current value does nothing.
    ///
    /// Refused with a typed error (and nothing changed): an empty key, a key,
    /// value or state over the [`Limits`](crate::Limits) (which list every
    /// rule), after [`leave`](Kite::leave) ([`LocalStateError::Left`]) and
    /// after [`shutdown`](Kite::shutdown) ([`LocalStateError::Stopped`]).
    pub fn upsert_local(&self, key: &str, value: &str) -> Result<(), LocalStateError> {
        self.shared.upsert_local(key, value)
    }

    /// Deletes a key of the local state; other nodes report it deleted.
    /// Deleting a key that is not set does nothing; refused like
    /// [`upsert_local`](Kite::upsert_local) for an empty key, after `leave`
    /// and after `shutdown`.
    pub fn delete_local(&self, key: &str) -> Result<(), LocalStateError> {
        self.shared.delete_local(key)
    }

    /// Joins the cluster through `targets`: `ip:port`, `ip`, `host:port` or
    /// `host` (bare forms use this node's port). Invalid targets are refused
    /// before anything is sent. Names are resolved; every address is
    /// contacted over a stream with this node's state.
    ///
    /// Returns **as soon as the first target answers**, with the id of the
    /// node that answered (a one-element list). Targets still pending go on
    /// in the background: every target the returned list does not name (one
    /// that failed before, one that answers or fails later) is reported
    /// once, as [`Event::JoinTargetCompleted`](crate::Event::JoinTargetCompleted), to watchers
    /// and event streams. Returns an empty list if there was nothing to
    /// contact (no targets, or every target is this node itself, as a name
    /// resolving only to this node), and [`JoinError::NoneJoined`] once
    /// every target has failed (a silent one after `stream_timeout`).
    ///
    /// When it returns, this node knows every node the answering node holds
    /// alive (within one stream frame), except one that node learned over
    /// two gossip intervals before and has had no fresh evidence of since
    /// (possibly a dead node's stale state, which is not passed on): so
    /// joining through a node that has only just joined brings the whole
    /// cluster. The rest comes by gossip.
    ///
    /// After a successful join its targets are seeds: each address is
    /// gossiped with every round while no live node holds it, and each name
    /// is re-resolved every `dns_refresh_interval`, its latest answer giving
    /// the seeds. A failed join leaves nothing behind: no target is
    /// contacted again and no name resolved again, so call `join` again to
    /// retry. This node still becomes a member if another node contacts it
    /// (one that joins through it, or a target that got the request but
    /// whose answer was lost or too late), reported as
    /// [`Event::NodeJoined`](crate::Event::NodeJoined) like any node discovered.
    ///
    /// See [`kite_proto::Node::join`] for the protocol's side.
    pub async fn join<S: AsRef<str>>(&self, targets: &[S]) -> Result<Vec<NodeId>, JoinError> {
        let outcome = self.shared.join(targets)?;
        outcome.recv().await.unwrap_or(Err(JoinError::Stopped))
    }

    /// Leaves the cluster gracefully: the local state is frozen and up to 3
    /// live nodes are told, so that every node reports this one as left (not
    /// down). Returns how many acknowledged: `Ok(0)` when the node knew no
    /// live node (nobody needed telling). Whatever the result, the node has
    /// left once this returns, except after [`LeaveError::AlreadyLeft`] and
    /// [`LeaveError::Stopped`]: writes and joins are refused from then on.
    /// [`LeaveError::NoneNotified`] means that no node acknowledged; those
    /// that were not told see the node down, then expire it. Call
    /// [`shutdown`](Kite::shutdown) afterwards.
    pub async fn leave(&self) -> Result<usize, LeaveError> {
        let outcome = self.shared.leave()?;
        outcome.recv().await.unwrap_or(Err(LeaveError::Stopped))
    }

    /// Adds `key` to the keyring (the first key of an empty ring becomes
    /// the primary). Every key opens what arrives; install a new key on
    /// every node before any node uses it. See docs/security.md for the
    /// rotation procedure.
    pub fn install_key(&self, key: Key) {
        self.shared.with_node(|node| node.install_key(key));
    }

    /// Makes the installed `key` the primary, which seals what this node
    /// sends from now on.
    pub fn use_key(&self, key: &Key) -> Result<(), SecurityError> {
        self.shared.with_node(|node| node.use_key(key))
    }

    /// Removes `key` from the keyring (not the primary: use another first).
    pub fn remove_key(&self, key: &Key) -> Result<(), SecurityError> {
        self.shared.with_node(|node| node.remove_key(key))
    }

    /// The keyring, as hints (never the key bytes), the primary first.
    pub fn keys(&self) -> Vec<KeyHint> {
        self.shared.with_node(|node| node.keys())
    }

    /// Switches what the node sends and accepts: `Plaintext`, then
    /// `Rolling` on every node, then `Encrypted` on every node turns
    /// encryption on in a running cluster (backwards to turn it off).
    pub fn set_security_mode(&self, mode: SecurityMode) -> Result<(), SecurityError> {
        self.shared.with_node(|node| node.set_security_mode(mode))
    }

    /// Every later event, as an async stream (see also
    /// [`Watcher`](crate::Watcher)). The stream is unbounded: read it, or
    /// drop it to unsubscribe. It ends when the node stops.
    ///
    /// The node runs from [`start`](Kite::start) on, so a peer's join
    /// request can be answered (and its `NodeJoined` emitted) before this is
    /// called. To see every event from the first, give a watcher or
    /// closure to [`Options::watcher`](crate::Options::watcher) or
    /// [`Options::on_event`](crate::Options::on_event) instead.
    pub fn events(&self) -> EventStream {
        EventStream::new(self.shared.subscribe())
    }

    /// Stops the node without telling anyone (call [`leave`](Kite::leave)
    /// first to leave gracefully): pending joins and leaves fail with
    /// `Stopped`, event streams end, and once this returns every task of the
    /// node has ended and its UDP and TCP ports are released. Reading the
    /// last known state still works.
    pub async fn shutdown(&self) {
        self.stop();
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(running) = running {
            // Nothing is ever sent: this returns when the last task has
            // dropped its sender, after its sockets.
            let _ = running.recv().await;
            info!(node = %self.local_id(), "stopped");
        }
    }

    fn stop(&self) {
        self.shared.stop();
        self.stop.close();
    }
}

impl<R: Runtime> Drop for Kite<R> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The host's interface addresses (to pick the one to advertise).
fn interfaces() -> Vec<IpAddr> {
    let listed = if_addrs::get_if_addrs().unwrap_or_else(|err| {
        warn!(%err, "cannot list interface addresses; advertising loopback");
        Vec::new()
    });
    listed.iter().map(|interface| interface.ip()).collect()
}
