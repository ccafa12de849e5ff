//! How events and the view are printed: human lines or JSON lines.

use std::time::SystemTime;

use kite_tokio::{Event, NodeStatus, NodeView};
use serde_json::{Value, json};

use crate::cli::Format;
use crate::time::rfc3339;

/// The line printed for `event` at `at`, or `None` for the outcomes of
/// `join` and `leave` (the agent reports those itself, on stderr).
pub(crate) fn event_line(format: Format, event: &Event, at: SystemTime) -> Option<String> {
    let at = rfc3339(at);
    let (name, id, key, value) = match event {
        Event::NodeJoined { id, .. } => ("node_joined", id, None, None),
        Event::NodeLeft { id } => ("node_left", id, None, None),
        Event::NodeDown { id } => ("node_down", id, None, None),
        Event::NodeUp { id } => ("node_up", id, None, None),
        Event::NodeExpired { id } => ("node_expired", id, None, None),
        Event::KeyUpserted { id, key, value } => ("key_upserted", id, Some(key), Some(value)),
        Event::KeyDeleted { id, key, value } => ("key_deleted", id, Some(key), Some(value)),
        Event::JoinCompleted { .. }
        | Event::JoinTargetCompleted { .. }
        | Event::LeaveCompleted { .. } => return None,
    };
    Some(match format {
        Format::Json => {
            let mut object = json!({ "event": name, "node": id.as_ref(), "at": at });
            if let Event::NodeJoined { addr, .. } = event {
                object["addr"] = Value::from(addr.to_string());
            }
            if let (Some(key), Some(value)) = (key, value) {
                object["key"] = Value::from(key.as_str());
                object["value"] = Value::from(value.as_str());
            }
            object.to_string()
        }
        Format::Human => match event {
            Event::NodeJoined { addr, .. } => format!("{at} {id} joined at {addr}"),
            Event::KeyUpserted { key, value, .. } => format!("{at} {id} set {key}={value}"),
            Event::KeyDeleted { key, .. } => format!("{at} {id} deleted {key}"),
            _ => format!("{at} {id} {}", name.trim_start_matches("node_")),
        },
    })
}

/// The lines that print `nodes`, this node's view (local node first): in
/// JSON one object `{"view": [...], "at": ...}`, else a line per node.
pub(crate) fn view_lines(format: Format, nodes: &[NodeView], at: SystemTime) -> Vec<String> {
    let status = |node: &NodeView| match node.status {
        NodeStatus::Alive => "alive",
        NodeStatus::Down => "down",
        NodeStatus::Left => "left",
    };
    match format {
        Format::Json => {
            let view: Vec<Value> = nodes
                .iter()
                .map(|node| {
                    json!({
                        "node": node.id.as_ref(),
                        "addr": node.addr.to_string(),
                        "status": status(node),
                        "version": node.version,
                        "entries": node.entries,
                    })
                })
                .collect();
            vec![json!({ "view": view, "at": rfc3339(at) }).to_string()]
        }
        Format::Human => nodes
            .iter()
            .map(|node| {
                let entries: Vec<String> = node
                    .entries
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                format!(
                    "{} {} {} v{} {}",
                    node.id,
                    node.addr,
                    status(node),
                    node.version,
                    entries.join(" ")
                )
                .trim_end()
                .to_owned()
            })
            .collect(),
    }
}

/// What `stats` reports about the process: tokio's count of alive tasks
/// (spawned and not yet finished) and its worker threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stats {
    pub(crate) tasks: usize,
    pub(crate) workers: usize,
}

impl Stats {
    /// The figures of the runtime this is called from.
    pub(crate) fn current() -> Stats {
        let metrics = tokio::runtime::Handle::current().metrics();
        Stats {
            tasks: metrics.num_alive_tasks(),
            workers: metrics.num_workers(),
        }
    }
}

/// The line that `stats` prints: in JSON `{"stats": {...}, "at": ...}`,
/// else `stats tasks=N workers=W`.
pub(crate) fn stats_line(format: Format, stats: Stats, at: SystemTime) -> String {
    match format {
        Format::Json => json!({
            "stats": { "tasks": stats.tasks, "workers": stats.workers },
            "at": rfc3339(at),
        })
        .to_string(),
        Format::Human => format!("stats tasks={} workers={}", stats.tasks, stats.workers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kite_tokio::NodeId;
    use std::time::{Duration, UNIX_EPOCH};

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn id() -> NodeId {
        NodeId::new("n1").unwrap()
    }

    #[test]
    fn json_events_name_the_event_node_key_value_and_time() {
        let event = Event::KeyUpserted {
            id: id(),
            key: "role".into(),
            value: "a \"b\"".into(),
        };
        let line = event_line(Format::Json, &event, at()).unwrap();
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            parsed,
            json!({"event": "key_upserted", "node": "n1", "key": "role",
                   "value": "a \"b\"", "at": "2023-11-14T22:13:20.000Z"})
        );
        let down = event_line(Format::Json, &Event::NodeDown { id: id() }, at()).unwrap();
        let parsed: Value = serde_json::from_str(&down).unwrap();
        assert_eq!(
            parsed,
            json!({"event": "node_down", "node": "n1", "at": "2023-11-14T22:13:20.000Z"})
        );
    }

    #[test]
    fn human_events_read_as_sentences() {
        let joined = Event::NodeJoined {
            id: id(),
            addr: "10.0.0.1:7000".parse().unwrap(),
        };
        let line = |event| event_line(Format::Human, &event, at()).unwrap();
        assert_eq!(
            line(joined),
            "2023-11-14T22:13:20.000Z n1 joined at 10.0.0.1:7000"
        );
        assert_eq!(
            line(Event::NodeLeft { id: id() }),
            "2023-11-14T22:13:20.000Z n1 left"
        );
        let deleted = Event::KeyDeleted {
            id: id(),
            key: "k".into(),
            value: "v".into(),
        };
        assert_eq!(line(deleted), "2023-11-14T22:13:20.000Z n1 deleted k");
        let outcome = Event::LeaveCompleted { result: Ok(1) };
        assert_eq!(event_line(Format::Human, &outcome, at()), None);
    }

    #[test]
    fn the_view_lists_every_node() {
        let node = NodeView {
            id: id(),
            generation: 1,
            addr: "10.0.0.1:7000".parse().unwrap(),
            status: NodeStatus::Down,
            version: 3,
            entries: [("k".to_owned(), "v".to_owned())].into(),
        };
        assert_eq!(
            view_lines(Format::Human, std::slice::from_ref(&node), at()),
            ["n1 10.0.0.1:7000 down v3 k=v"]
        );
        let json = view_lines(Format::Json, &[node], at());
        let parsed: Value = serde_json::from_str(&json[0]).unwrap();
        assert_eq!(parsed["view"][0]["status"], "down");
        assert_eq!(parsed["view"][0]["entries"]["k"], "v");
    }

    #[test]
    fn stats_print_tasks_and_workers() {
        let stats = Stats {
            tasks: 12,
            workers: 2,
        };
        assert_eq!(
            stats_line(Format::Human, stats, at()),
            "stats tasks=12 workers=2"
        );
        let parsed: Value = serde_json::from_str(&stats_line(Format::Json, stats, at())).unwrap();
        assert_eq!(
            parsed,
            json!({"stats": {"tasks": 12, "workers": 2}, "at": "2023-11-14T22:13:20.000Z"})
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stats_count_the_runtime_tasks() {
        let before = Stats::current();
        assert_eq!(before.workers, 2);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = stopped.await;
        });
        assert_eq!(Stats::current().tasks, before.tasks + 1);
        stop.send(()).unwrap();
        task.await.unwrap();
        // A finished task is released just after its output is handed over.
        for _ in 0..100 {
            if Stats::current().tasks == before.tasks {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the finished task is still counted: {:?}", Stats::current());
    }
}
