//! How a test body runs on each executor, with the Kite runtime for it.

use std::future::Future;
use std::time::Duration;

/// A node on the Kite runtime of executor `R`.
pub(crate) type Kite<R> = kite_runtime::Kite<<R as Runtime>::Rt>;

/// An executor the scenarios run on, with the Kite runtime for it.
pub(crate) trait Runtime: 'static {
    /// The adapter's runtime.
    type Rt: kite_runtime::Runtime + Default;
    /// Second byte of every address this executor's scenarios bind
    /// (`127.<NET>.<scenario>.<host>`), so executors never collide.
    const NET: u8;
    /// Runs a test body to completion.
    fn block_on<F: Future>(future: F) -> F::Output;
    /// This executor's sleep.
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
    type Rt = kite_tokio::Tokio;
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
    type Rt = kite_async_std::AsyncIo;
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
    type Rt = kite_async_std::AsyncIo;
    const NET: u8 = 3;
    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }
}
