//! The commands read from stdin.

/// One line of stdin, understood.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `set KEY VALUE`: sets a key of this node (the value is the rest of
    /// the line, spaces included).
    Set { key: String, value: String },
    /// `del KEY`: deletes a key of this node.
    Del { key: String },
    /// `nodes`: prints this node's view of the cluster.
    Nodes,
    /// `stats`: prints one line about the process (tokio's alive task
    /// count and worker threads), for soak runs and leak hunts.
    Stats,
    /// `leave`: leaves gracefully, then exits.
    Leave,
    /// `quit`: exits without leaving.
    Quit,
    /// An empty line.
    Nothing,
}

impl Command {
    /// Parses one line, or says what is wrong with it.
    pub(crate) fn parse(line: &str) -> Result<Command, String> {
        let line = line.trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim_start();
        match (word, rest) {
            ("", _) => Ok(Command::Nothing),
            ("set", rest) => match rest.split_once(' ') {
                Some((key, value)) => Ok(Command::Set {
                    key: key.to_owned(),
                    value: value.trim_start().to_owned(),
                }),
                None if !rest.is_empty() => Ok(Command::Set {
                    key: rest.to_owned(),
                    value: String::new(),
                }),
                None => Err("usage: set KEY VALUE".into()),
            },
            ("del", key) if !key.is_empty() && !key.contains(' ') => Ok(Command::Del {
                key: key.to_owned(),
            }),
            ("del", _) => Err("usage: del KEY".into()),
            ("nodes", "") => Ok(Command::Nodes),
            ("stats", "") => Ok(Command::Stats),
            ("leave", "") => Ok(Command::Leave),
            ("quit", "") => Ok(Command::Quit),
            _ => Err(format!(
                "unknown command {line:?} (set KEY VALUE, del KEY, nodes, stats, leave, quit)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Result<Command, String> {
        Ok(Command::Set {
            key: key.into(),
            value: value.into(),
        })
    }

    #[test]
    fn parses_each_command() {
        assert_eq!(
            Command::parse("set role web server\n"),
            set("role", "web server")
        );
        assert_eq!(Command::parse("  set  k   v"), set("k", "v"));
        assert_eq!(Command::parse("set flag"), set("flag", ""));
        assert_eq!(
            Command::parse("del role"),
            Ok(Command::Del { key: "role".into() })
        );
        assert_eq!(Command::parse("nodes"), Ok(Command::Nodes));
        assert_eq!(Command::parse(" stats \n"), Ok(Command::Stats));
        assert_eq!(Command::parse("leave"), Ok(Command::Leave));
        assert_eq!(Command::parse("quit\r\n"), Ok(Command::Quit));
        assert_eq!(Command::parse("   "), Ok(Command::Nothing));
    }

    #[test]
    fn refuses_malformed_lines() {
        for bad in [
            "set",
            "del",
            "del a b",
            "nodes all",
            "stats now",
            "Stats",
            "exit",
            "SET a b",
        ] {
            assert!(Command::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
