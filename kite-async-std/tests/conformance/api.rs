//! What the scenarios are written against: [`Api`], the public API both
//! adapters share, implemented for both by one macro (so the same text
//! compiling against both crates shows their APIs are the same), and
//! [`Runtime`], how a test body runs on each runtime.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::Stream;
use kite_proto::driver::{Options, StartError};
use kite_proto::{Event, JoinError, LeaveError, LocalStateError, NodeId, NodeView, Stats};

/// The public API of `kite_tokio::Kite` and `kite_async_std::Kite`.
pub(crate) trait Api: std::fmt::Debug + Sized + Send + Sync + 'static {
    type Events: Events;
    async fn start(options: Options) -> Result<Self, StartError>;
    fn local_id(&self) -> &NodeId;
    fn advertise_addr(&self) -> SocketAddr;
    fn local_node(&self) -> NodeView;
    fn node(&self, id: &NodeId) -> Option<NodeView>;
    fn nodes(&self) -> Vec<NodeView>;
    fn stats(&self) -> Stats;
    fn upsert_local(&self, key: &str, value: &str) -> Result<(), LocalStateError>;
    fn delete_local(&self, key: &str) -> Result<(), LocalStateError>;
    async fn join<S: AsRef<str>>(&self, targets: &[S]) -> Result<Vec<NodeId>, JoinError>;
    async fn leave(&self) -> Result<usize, LeaveError>;
    fn events(&self) -> Self::Events;
    async fn shutdown(&self);
}

/// Their `EventStream`s.
pub(crate) trait Events: Stream<Item = Event> + Unpin {
    async fn recv(&mut self) -> Option<Event>;
}

macro_rules! impl_api {
    ($krate:ident) => {
        impl Api for $krate::Kite {
            type Events = $krate::EventStream;
            async fn start(options: $krate::Options) -> Result<Self, $krate::StartError> {
                $krate::Kite::start(options).await
            }
            fn local_id(&self) -> &$krate::NodeId {
                $krate::Kite::local_id(self)
            }
            fn advertise_addr(&self) -> SocketAddr {
                $krate::Kite::advertise_addr(self)
            }
            fn local_node(&self) -> $krate::NodeView {
                $krate::Kite::local_node(self)
            }
            fn node(&self, id: &$krate::NodeId) -> Option<$krate::NodeView> {
                $krate::Kite::node(self, id)
            }
            fn nodes(&self) -> Vec<$krate::NodeView> {
                $krate::Kite::nodes(self)
            }
            fn stats(&self) -> $krate::Stats {
                $krate::Kite::stats(self)
            }
            fn upsert_local(&self, key: &str, value: &str) -> Result<(), $krate::LocalStateError> {
                $krate::Kite::upsert_local(self, key, value)
            }
            fn delete_local(&self, key: &str) -> Result<(), $krate::LocalStateError> {
                $krate::Kite::delete_local(self, key)
            }
            async fn join<S: AsRef<str>>(
                &self,
                targets: &[S],
            ) -> Result<Vec<$krate::NodeId>, $krate::JoinError> {
                $krate::Kite::join(self, targets).await
            }
            async fn leave(&self) -> Result<usize, $krate::LeaveError> {
                $krate::Kite::leave(self).await
            }
            fn events(&self) -> $krate::EventStream {
                $krate::Kite::events(self)
            }
            async fn shutdown(&self) {
                $krate::Kite::shutdown(self).await
            }
        }

        impl Events for $krate::EventStream {
            async fn recv(&mut self) -> Option<$krate::Event> {
                $krate::EventStream::recv(self).await
            }
        }
    };
}

impl_api!(kite_tokio);
impl_api!(kite_async_std);

/// A runtime the scenarios run on, with the adapter for it.
pub(crate) trait Runtime: 'static {
    /// The adapter's node handle.
    type Kite: Api;
    /// Second byte of every address this runtime's scenarios bind
    /// (`127.<NET>.<scenario>.<host>`), so runtimes never collide.
    const NET: u8;
    /// Runs a test body to completion.
    fn block_on<F: Future>(future: F) -> F::Output;
    /// This runtime's sleep.
    fn sleep(duration: Duration) -> impl Future<Output = ()>;
}

/// kite-tokio on a multi-thread tokio runtime.
pub(crate) struct Tokio;

/// A tokio runtime like the ones applications use.
pub(crate) fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

impl Runtime for Tokio {
    type Kite = kite_tokio::Kite;
    const NET: u8 = 1;
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio_runtime().block_on(future)
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(duration)
    }
}

/// kite-async-std under async-std's runtime.
pub(crate) struct AsyncStd;

impl Runtime for AsyncStd {
    type Kite = kite_async_std::Kite;
    const NET: u8 = 2;
    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> {
        async_std::task::sleep(duration)
    }
}

/// kite-async-std under smol.
pub(crate) struct Smol;

impl Runtime for Smol {
    type Kite = kite_async_std::Kite;
    const NET: u8 = 3;
    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }
}
