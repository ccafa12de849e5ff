//! The command line: flags, their defaults, and the node options they make.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kite_tokio::{Key, KeyError, NodeId, Options, SecurityMode};

use crate::duration;

/// Runs one Kite node: cluster membership, a replicated key-value view of
/// every node, and failure detection over gossip.
///
/// Prints one line per event on stdout (a node joined, left, went down,
/// came back up or expired; a key of another node was set or deleted).
/// Reads commands from stdin when it is not a terminal, or with
/// --interactive: `set KEY VALUE`, `del KEY`, `nodes` (prints the view),
/// `stats` (prints the runtime's alive task count and workers), `leave`
/// (leaves gracefully, then exits), `quit` (exits without leaving:
/// peers report this node down). The end of stdin stops reading commands,
/// not the node. SIGINT or SIGTERM leaves gracefully and exits 0; a second
/// signal exits at once.
#[derive(Debug, Parser)]
#[command(name = "kite", version)]
pub(crate) struct Cli {
    /// Address to bind, UDP and TCP on the same port.
    #[arg(long, value_name = "IP:PORT", default_value = "0.0.0.0:7000")]
    pub(crate) bind: SocketAddr,

    /// Address other nodes reach this one at [default: the bind IP, or if
    /// unspecified the host's private IP; the bound port].
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) advertise: Option<SocketAddr>,

    /// A node or DNS name to join through: ip:port, host:port, or a bare
    /// ip or host (then this node's port). Repeatable. Names are resolved
    /// again every --dns-refresh-interval and new addresses joined.
    /// [default: none, wait to be joined]
    #[arg(long = "join", value_name = "TARGET")]
    pub(crate) join: Vec<String>,

    /// This node's id, at most 64 bytes [default: 9 random characters].
    #[arg(long, value_name = "ID")]
    pub(crate) id: Option<NodeId>,

    /// A key of this node's state, set before joining. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    pub(crate) set: Vec<(String, String)>,

    /// Time between gossip rounds (e.g. 100ms, 2s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = duration::parse)]
    pub(crate) gossip_interval: Duration,

    /// Suspicion level (phi) above which a node is reported down.
    #[arg(long, value_name = "PHI", default_value_t = 20.0)]
    pub(crate) suspicion_threshold: f64,

    /// Largest datagram sent, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1400)]
    pub(crate) max_packet_size: usize,

    /// How often joined DNS names are resolved again.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration::parse)]
    pub(crate) dns_refresh_interval: Duration,

    /// How long a left or down node is kept before it is removed (expired),
    /// at most 24 days.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration::parse)]
    pub(crate) node_expiry: Duration,

    /// A DNS server to resolve --join names with. Repeatable.
    /// [default: the system's resolver configuration]
    #[arg(long = "name-server", value_name = "IP:PORT")]
    pub(crate) name_servers: Vec<SocketAddr>,

    /// How events are printed: `human` lines or `json` (one object a line,
    /// with `event`, `node`, `key` and `value` for key events, and `at`).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,

    /// Serve this node's metrics for Prometheus over HTTP on this address
    /// (any path, e.g. http://127.0.0.1:9100/metrics). [default: off]
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) metrics: Option<SocketAddr>,

    /// Read commands from stdin even when it is a terminal.
    #[arg(long)]
    pub(crate) interactive: bool,

    /// The cluster label: the agent talks only to nodes with the same one,
    /// so clusters sharing a network or a seed address stay apart (at most
    /// 64 bytes). [default: none]
    #[arg(long, value_name = "LABEL", default_value = "")]
    pub(crate) cluster_label: String,

    /// A file of 32-byte keys, one a line, in base64 or hex (`#` starts a
    /// comment line). The first is the primary, which seals what the agent
    /// sends; every key opens what arrives. With keys, gossip is
    /// authenticated and encrypted (see --encryption; docs/security.md).
    /// [default: none, plaintext]
    #[arg(long, value_name = "PATH")]
    pub(crate) key_file: Option<PathBuf>,

    /// With --key-file: `encrypted` (sends sealed, refuses plaintext),
    /// `rolling` (sends sealed, still accepts plaintext: the step between,
    /// when switching a running cluster on or off) or `plaintext` (sends in
    /// clear, accepts both).
    #[arg(long, value_enum, default_value_t = Encryption::Encrypted)]
    pub(crate) encryption: Encryption,
}

/// What the agent sends and accepts once it has keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Encryption {
    /// Sends sealed messages, refuses plaintext.
    Encrypted,
    /// Sends sealed messages, accepts plaintext too.
    Rolling,
    /// Sends plaintext, accepts sealed messages it can open too.
    Plaintext,
}

/// A key file that cannot be used.
#[derive(Debug)]
pub(crate) enum KeyFileError {
    /// The file could not be read.
    Read(PathBuf, std::io::Error),
    /// A line is not a key.
    Key(PathBuf, usize, KeyError),
    /// The file holds no key.
    Empty(PathBuf),
}

impl std::fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyFileError::Read(path, err) => write!(f, "--key-file {}: {err}", path.display()),
            KeyFileError::Key(path, line, err) => {
                write!(f, "--key-file {} line {line}: {err}", path.display())
            }
            KeyFileError::Empty(path) => write!(f, "--key-file {}: no key in it", path.display()),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// The keys of `path`: one a line, blank lines and `#` comments skipped.
fn read_keys(path: &Path) -> Result<Vec<Key>, KeyFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|err| KeyFileError::Read(path.to_owned(), err))?;
    let keys = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| {
            line.parse::<Key>()
                .map_err(|err| KeyFileError::Key(path.to_owned(), n, err))
        })
        .collect::<Result<Vec<Key>, _>>()?;
    if keys.is_empty() {
        return Err(KeyFileError::Empty(path.to_owned()));
    }
    Ok(keys)
}

/// How events and views are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// The node's options; fails only on an unusable key file.
    pub(crate) fn options(&self) -> Result<Options, KeyFileError> {
        let mut options = Options::new()
            .bind_addr(self.bind)
            .gossip_interval(self.gossip_interval)
            .suspicion_threshold(self.suspicion_threshold)
            .max_packet_size(self.max_packet_size)
            .dns_refresh_interval(self.dns_refresh_interval)
            .node_expiry(self.node_expiry)
            .name_servers(self.name_servers.iter().copied());
        if let Some(addr) = self.advertise {
            options = options.advertise_addr(addr);
        }
        if let Some(id) = &self.id {
            options = options.node_id(id.clone());
        }
        options = options.cluster_label(self.cluster_label.clone());
        if let Some(path) = &self.key_file {
            for key in read_keys(path)? {
                options = options.key(key);
            }
            options = options.security_mode(match self.encryption {
                Encryption::Encrypted => SecurityMode::Encrypted,
                Encryption::Rolling => SecurityMode::Rolling,
                Encryption::Plaintext => SecurityMode::Plaintext,
            });
        }
        Ok(options)
    }
}

/// Splits `KEY=VALUE` at the first `=`.
fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn defaults_are_the_library_defaults() {
        Cli::command().debug_assert();
        let cli = Cli::parse_from(["kite"]);
        let ours = cli.options().unwrap();
        let library = Options::new();
        assert_eq!(ours.bind_addr, library.bind_addr);
        assert_eq!(ours.advertise_addr, library.advertise_addr);
        assert_eq!(ours.node_id, library.node_id);
        assert_eq!(ours.gossip_interval, library.gossip_interval);
        assert_eq!(ours.suspicion_threshold, library.suspicion_threshold);
        assert_eq!(ours.max_packet_size, library.max_packet_size);
        assert_eq!(ours.dns_refresh_interval, library.dns_refresh_interval);
        assert_eq!(ours.node_expiry, library.node_expiry);
        assert_eq!(ours.name_servers, library.name_servers);
        assert_eq!(cli.format, Format::Human);
        assert!(cli.join.is_empty() && cli.set.is_empty() && !cli.interactive);
        assert_eq!(cli.metrics, None);
    }

    #[test]
    fn flags_set_the_options() {
        let cli = Cli::parse_from([
            "kite",
            "--bind=127.0.0.2:7100",
            "--advertise=10.0.0.2:7100",
            "--join=kite.svc",
            "--join=127.0.0.1:7100",
            "--id=pod-1",
            "--set=role=a=b",
            "--set=zone=",
            "--gossip-interval=100ms",
            "--suspicion-threshold=8",
            "--max-packet-size=9000",
            "--dns-refresh-interval=2s",
            "--node-expiry=1m",
            "--name-server=10.0.0.53:53",
            "--format=json",
            "--metrics=127.0.0.1:9100",
            "--interactive",
        ]);
        assert_eq!(cli.join, ["kite.svc", "127.0.0.1:7100"]);
        assert_eq!(
            cli.set,
            [
                ("role".to_owned(), "a=b".to_owned()),
                ("zone".to_owned(), String::new())
            ]
        );
        assert_eq!(cli.format, Format::Json);
        assert!(cli.interactive);
        assert_eq!(cli.metrics, Some("127.0.0.1:9100".parse().unwrap()));
        let options = cli.options().unwrap();
        assert_eq!(options.bind_addr, "127.0.0.2:7100".parse().unwrap());
        assert_eq!(
            options.advertise_addr,
            Some("10.0.0.2:7100".parse().unwrap())
        );
        assert_eq!(options.node_id, Some(NodeId::new("pod-1").unwrap()));
        assert_eq!(options.gossip_interval, Duration::from_millis(100));
        assert_eq!(options.suspicion_threshold, 8.0);
        assert_eq!(options.max_packet_size, 9000);
        assert_eq!(options.dns_refresh_interval, Duration::from_secs(2));
        assert_eq!(options.node_expiry, Duration::from_secs(60));
        assert_eq!(options.name_servers, ["10.0.0.53:53".parse().unwrap()]);
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            ["kite", "--set=novalue"],
            ["kite", "--gossip-interval=100"],
            ["kite", "--format=xml"],
            ["kite", "--bind=localhost"],
            ["kite", "--metrics=9100"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn a_key_file_and_a_label_secure_the_node() {
        let dir = std::env::temp_dir().join(format!("kite-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keys = dir.join("keys");
        let primary = "qUSUnd3mHB33UK7BbRh9kDvXx6ewAW+8Wpqz1ShfMb0=";
        let second = "07".repeat(32);
        std::fs::write(
            &keys,
            format!("# rotation in progress\n{primary}\n\n{second}\n"),
        )
        .unwrap();
        let path = keys.to_str().unwrap();
        let cli = Cli::parse_from(["kite", "--cluster-label=prod", "--key-file", path]);
        let options = cli.options().unwrap();
        assert_eq!(options.security.label, "prod");
        assert_eq!(options.security.mode, SecurityMode::Encrypted);
        let expected: Vec<Key> = vec![primary.parse().unwrap(), second.parse().unwrap()];
        assert_eq!(options.security.keys, expected);
        let rolling = Cli::parse_from(["kite", "--key-file", path, "--encryption=rolling"]);
        assert_eq!(
            rolling.options().unwrap().security.mode,
            SecurityMode::Rolling
        );

        std::fs::write(&keys, "# nothing yet\n").unwrap();
        let empty = Cli::parse_from(["kite", "--key-file", path])
            .options()
            .unwrap_err();
        assert!(matches!(empty, KeyFileError::Empty(_)), "{empty}");
        std::fs::write(&keys, "not a key\n").unwrap();
        let bad = Cli::parse_from(["kite", "--key-file", path])
            .options()
            .unwrap_err();
        assert!(matches!(bad, KeyFileError::Key(_, 1, _)), "{bad}");
        std::fs::remove_dir_all(&dir).unwrap();
        let missing = Cli::parse_from(["kite", "--key-file", path])
            .options()
            .unwrap_err();
        assert!(matches!(missing, KeyFileError::Read(..)), "{missing}");
    }
}
