//! Both adapters publish the same metrics, by the names and labels of
//! `kite_runtime::metrics`, through the `metrics` facade.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kite_proto::NodeId;
use kite_runtime::metrics::{
    CONNECTIONS_INBOUND, COUNTERS, NODE_LABEL, NODES, PACKETS_OUTBOUND, REASON_LABEL, REJECTED,
    STATUS_LABEL,
};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use crate::api::{Kite, Runtime};
use crate::support::{addr, eventually, options, sees_alive, start};

/// A series: its name and its labels.
type Series = (String, BTreeMap<String, String>);

/// Keeps the latest value of every series any node of the process publishes
/// (gauges as `f64` bits, as `metrics` stores them in an `AtomicU64`).
#[derive(Default)]
struct Store(Mutex<BTreeMap<Series, Arc<AtomicU64>>>);

impl Store {
    fn cell(&self, key: &Key) -> Arc<AtomicU64> {
        let labels = key.labels().map(|l| (l.key().into(), l.value().into()));
        let series = (key.name().to_string(), labels.collect());
        Arc::clone(self.0.lock().unwrap().entry(series).or_default())
    }

    /// Every series labelled with `node`, without that label.
    fn of(&self, node: &NodeId) -> BTreeMap<Series, u64> {
        let store = self.0.lock().unwrap();
        let of_node = store.iter().filter(|((_, labels), _)| {
            labels.get(NODE_LABEL).map(String::as_str) == Some(node.as_str())
        });
        let without_node = of_node.map(|((name, labels), value)| {
            let mut labels = labels.clone();
            labels.remove(NODE_LABEL);
            ((name.clone(), labels), value.load(Ordering::Relaxed))
        });
        without_node.collect()
    }
}

impl Recorder for Store {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// The process's recorder, installed by the first caller.
fn store() -> &'static Store {
    static STORE: OnceLock<&'static Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let store: &'static Store = Box::leak(Box::default());
        metrics::set_global_recorder(store).unwrap();
        store
    })
}

pub(crate) async fn every_metric_is_published_by_its_shared_name<R: Runtime>() {
    const SCENARIO: u8 = 12;
    let store = store();
    let (a, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 1))).await;
    let (b, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 2))).await;
    b.join(&[a.advertise_addr().to_string()]).await.unwrap();
    let ids = [a.local_id().clone(), b.local_id().clone()];
    let counter = |name: &str| (name.to_string(), BTreeMap::new());
    let nodes = |status: &str| {
        let labels = [(STATUS_LABEL.to_string(), status.to_string())];
        (NODES.to_string(), labels.into_iter().collect())
    };
    let published = |kite: &Kite<R>, values: &mut BTreeMap<Series, u64>| {
        *values = store.of(kite.local_id());
        let gauge = |status| values.get(&nodes(status)).map(|bits| f64::from_bits(*bits));
        sees_alive(kite, &ids)
            && gauge("alive") == Some(2.0)
            && values.get(&counter(PACKETS_OUTBOUND)) > Some(&0)
    };
    let mut values = BTreeMap::new();
    eventually::<R>(
        "both nodes publish the cluster they see (every second)",
        Duration::from_secs(20),
        || published(&a, &mut values) && published(&b, &mut BTreeMap::new()),
    )
    .await;

    // Every counter, every status of the gauge, every reason of the
    // rejections, and nothing else.
    let mut expected: Vec<Series> = COUNTERS.iter().map(|c| counter(c.name)).collect();
    expected.extend(["alive", "down", "left"].map(nodes));
    expected.extend(["label", "auth", "unknown_key", "plaintext"].map(|reason| {
        let labels = [(REASON_LABEL.to_string(), reason.to_string())];
        (REJECTED.to_string(), labels.into_iter().collect())
    }));
    expected.sort();
    assert_eq!(values.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(values[&counter(CONNECTIONS_INBOUND)] >= 1, "b joined a");
    assert_eq!(f64::from_bits(values[&nodes("down")]), 0.0);

    b.shutdown().await;
    a.shutdown().await;
}
