//! `join` returns as soon as one target answered, however long the others
//! take.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::api::Runtime;
use crate::support::{addr, options, start};

pub(crate) async fn join_returns_with_the_first_answer_while_a_silent_target_waits<R: Runtime>() {
    const SCENARIO: u8 = 31;
    // Accepts connections (the kernel completes them) but never reads nor
    // answers: a request to it lasts the whole stream timeout.
    let silent = TcpListener::bind(addr::<R>(SCENARIO, 9)).unwrap();
    let (seed, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 1))).await;
    let patient = options(addr::<R>(SCENARIO, 2)).stream_timeout(Duration::from_secs(10));
    let (joiner, _) = start::<R::Rt>(patient).await;

    let started = Instant::now();
    let targets = [
        silent.local_addr().unwrap().to_string(),
        seed.advertise_addr().to_string(),
    ];
    let joined = joiner.join(&targets).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "join took {took:?}");
    assert_eq!(joined, vec![seed.local_id().clone()]);

    joiner.shutdown().await;
    seed.shutdown().await;
}
