//! The conformance suite: every real-socket scenario of the adapters,
//! written once (the modules below, generic over [`api::Runtime`]) and run
//! against kite-tokio on a tokio multi-thread runtime, kite-async-std under
//! async-std's runtime and kite-async-std under smol; plus a mixed cluster
//! of kite-tokio and kite-async-std nodes.
//!
//! Each runtime's scenarios bind `127.<runtime>.<scenario>.<host>` (see
//! [`support::addr`]), so all of them run in parallel.

mod api;
mod cluster;
mod dns;
mod failure;
mod hostile;
mod join;
mod leave;
mod mixed;
mod published_metrics;
mod restart;
mod security;
mod shutdown;
#[cfg(unix)]
mod stall;
mod support;

use api::{AsyncStd, Runtime, Smol, Tokio};

/// The `#[test]`s of every scenario, on runtime `$runtime`, in module `$name`.
macro_rules! conformance {
    ($name:ident, $runtime:ty) => {
        mod $name {
            use super::*;

            type R = $runtime;

            #[test]
            fn five_nodes_join_through_one_seed_and_see_every_key_change() {
                R::block_on(
                    cluster::five_nodes_join_through_one_seed_and_see_every_key_change::<R>(),
                );
            }

            #[test]
            fn a_dropped_node_is_reported_down_by_all_and_a_restart_joins_anew() {
                R::block_on(
                    failure::a_dropped_node_is_reported_down_by_all_and_a_restart_joins_anew::<R>(),
                );
            }

            #[cfg(unix)]
            #[test]
            fn a_stalled_node_is_reported_down_then_up_and_does_not_convict_others() {
                let helper = concat!(stringify!($name), "::stalled_node_process");
                R::block_on(
                    stall::a_stalled_node_is_reported_down_then_up_and_does_not_convict_others::<R>(
                        helper,
                    ),
                );
            }

            /// Not a test: the helper process of the stall scenario.
            #[cfg(unix)]
            #[test]
            #[ignore = "the process the stall scenario freezes; it starts it"]
            fn stalled_node_process() {
                R::block_on(stall::stalled_node_process::<R>());
            }

            #[test]
            fn join_returns_with_the_first_answer_while_a_silent_target_waits() {
                R::block_on(
                    join::join_returns_with_the_first_answer_while_a_silent_target_waits::<R>(),
                );
            }

            #[test]
            fn every_other_node_reports_a_leaving_node_left_never_down() {
                R::block_on(leave::every_other_node_reports_a_leaving_node_left_never_down::<R>());
            }

            #[test]
            fn leave_succeeds_with_nobody_to_tell_and_fails_with_nobody_answering() {
                R::block_on(
                    leave::leave_succeeds_with_nobody_to_tell_and_fails_with_nobody_answering::<R>(
                    ),
                );
            }

            #[test]
            fn joining_a_name_joins_every_address_and_follows_the_answer_as_it_grows() {
                R::block_on(
                    dns::joining_a_name_joins_every_address_and_follows_the_answer_as_it_grows::<R>(
                    ),
                );
            }

            #[test]
            fn a_name_that_does_not_resolve_is_a_join_error() {
                R::block_on(dns::a_name_that_does_not_resolve_is_a_join_error::<R>());
            }

            #[test]
            fn a_new_address_is_joined_at_the_refresh_interval_whatever_the_ttl() {
                R::block_on(
                    dns::a_new_address_is_joined_at_the_refresh_interval_whatever_the_ttl::<R>(),
                );
            }

            #[test]
            fn random_datagrams_and_stream_bytes_change_nothing_and_are_counted() {
                R::block_on(
                    hostile::random_datagrams_and_stream_bytes_change_nothing_and_are_counted::<R>(
                    ),
                );
            }

            #[test]
            fn shutdown_releases_the_ports_for_a_new_node() {
                R::block_on(shutdown::shutdown_releases_the_ports_for_a_new_node::<R>());
            }

            #[test]
            fn every_metric_is_published_by_its_shared_name() {
                R::block_on(published_metrics::every_metric_is_published_by_its_shared_name::<R>());
            }

            #[test]
            fn a_restart_with_the_same_id_replaces_the_earlier_run_at_the_peer() {
                R::block_on(
                    restart::a_restart_with_the_same_id_replaces_the_earlier_run_at_the_peer::<R>(),
                );
            }

            #[test]
            fn nodes_with_the_same_key_form_a_cluster_and_another_key_is_refused() {
                R::block_on(
                    security::nodes_with_the_same_key_form_a_cluster_and_another_key_is_refused::<R>(),
                );
            }

            #[test]
            fn dropping_a_node_releases_its_ports() {
                R::block_on(shutdown::dropping_a_node_releases_its_ports::<R>());
            }
        }
    };
}

conformance!(on_tokio, Tokio);
conformance!(on_async_std, AsyncStd);
conformance!(on_smol, Smol);

/// A mixed cluster: kite-tokio nodes on a tokio runtime, kite-async-std
/// nodes, the test body under `R`.
fn mixed_cluster<R: Runtime>() {
    let tokio = api::tokio_runtime();
    let _entered = tokio.enter();
    R::block_on(mixed::tokio_and_async_std_nodes_converge_and_detect_each_others_crash::<R>());
}

#[test]
fn mixed_cluster_with_async_std() {
    mixed_cluster::<AsyncStd>();
}

#[test]
fn mixed_cluster_with_smol() {
    mixed_cluster::<Smol>();
}
