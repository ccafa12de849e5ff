"""Shared by Kite's network-namespace scripts (tests/netns/run, the
multi-host suite, and tests/soak/run, the soak run): hosts as network
namespaces on bridges, a dnsmasq answering a service name with their
addresses, `kite` agents whose JSON events are collected, and the cleanup
that removes all of it.

Every namespace and link a lab creates starts with its prefix, so cleanup
finds them again after an interrupted run; give scripts that may run at the
same time different prefixes and subnets.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATIENCE = 30.0  # seconds; only against hangs


def sh(*args, check=True):
    """Runs a command quietly; raises with its stderr if `check` and it fails."""
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done


class Lab:
    """Names and addresses of one script's network: host N lives in
    namespace PREFIX+nN with address SUBNET.(10+N); the DNS server in
    PREFIX+dns at SUBNET.2, answering `name`."""

    def __init__(self, prefix, subnet, name, port=7000):
        self.prefix, self.subnet, self.name, self.port = prefix, subnet, name, port
        self.dns_ns, self.dns_ip = prefix + "dns", subnet + ".2"

    def ip_of(self, host):
        return f"{self.subnet}.{10 + host}"

    def ns_of(self, host):
        return f"{self.prefix}n{host}"

    def veth_of(self, host):
        """The root-namespace end of a host's link (on a bridge)."""
        return f"{self.prefix}h{host}"

    def cleanup(self):
        """Removes everything with this lab's prefix (processes in its
        namespaces, the namespaces, every link), from this run or an
        interrupted earlier one."""
        names = sh("ip", "netns", "list", check=False).stdout.split()
        for ns in [n for n in names if n.startswith(self.prefix)]:
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)
        links = sh("ip", "-o", "link", "show", check=False).stdout.splitlines()
        for line in links:
            parts = line.split(": ")
            if len(parts) > 1:
                link = parts[1].split("@")[0]
                if link.startswith(self.prefix):
                    sh("ip", "link", "del", link, check=False)  # a veth's peer goes with it

    def bridge(self, name):
        sh("ip", "link", "add", name, "type", "bridge")
        sh("ip", "link", "set", name, "up")

    def trunk(self, end_a, bridge_a, end_b, bridge_b):
        """A veth pair joining two bridges; setting one end down is a cut."""
        sh("ip", "link", "add", end_a, "type", "veth", "peer", "name", end_b)
        sh("ip", "link", "set", end_a, "master", bridge_a, "up")
        sh("ip", "link", "set", end_b, "master", bridge_b, "up")

    def host(self, ns, veth, addr, bridge):
        """A namespace whose eth0 (a veth whose peer `veth` is on `bridge`)
        has `addr`/24."""
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "n")
        sh("ip", "link", "set", veth + "n", "netns", ns)
        sh("ip", "link", "set", veth, "master", bridge, "up")
        run_in = ["ip", "netns", "exec", ns]
        sh(*run_in, "ip", "link", "set", "lo", "up")
        sh(*run_in, "ip", "link", "set", veth + "n", "name", "eth0")
        sh(*run_in, "ip", "addr", "add", addr + "/24", "dev", "eth0")
        sh(*run_in, "ip", "link", "set", "eth0", "up")


class Dns:
    """dnsmasq in the lab's DNS namespace, answering the lab's name with the
    addresses of `hosts`."""

    def __init__(self, lab, workdir, hosts):
        self.lab = lab
        self.hosts_file = os.path.join(workdir, "hosts")
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        self.write(hosts)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", lab.dns_ns, "dnsmasq", "--keep-in-foreground",
             "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             f"--addn-hosts={self.hosts_file}", f"--listen-address={lab.dns_ip}",
             "--bind-interfaces", "--port=53", "--user=root", "--group=root",
             "--no-negcache", "--pid-file=", "--log-facility=-"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.wait_reads(1)

    def write(self, hosts):
        with open(self.hosts_file, "w") as f:
            f.writelines(f"{self.lab.ip_of(h)} {self.lab.name}\n" for h in hosts)

    def reads(self):
        with open(self.log_path) as f:
            return sum(1 for line in f if "read " + self.hosts_file in line)

    def wait_reads(self, count):
        deadline = time.monotonic() + PATIENCE
        while self.reads() < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dnsmasq did not start: " + open(self.log_path).read())
            time.sleep(0.02)

    def answer(self, hosts):
        """Changes the answer (SIGHUP re-reads the hosts file) and returns
        once dnsmasq has read it."""
        before = self.reads()
        self.write(hosts)
        self.process.send_signal(signal.SIGHUP)
        self.wait_reads(before + 1)

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


class Agent:
    """One `kite` process in a host's namespace (`ip netns exec` execs the
    agent, so `process.pid` is the agent's); its JSON stdout lines are kept
    with the monotonic time they were read."""

    all = []
    changed = threading.Condition()

    def __init__(self, lab, binary, workdir, host, node_id, flags, join=True):
        self.host, self.id = host, node_id
        self.events = []
        self.started = time.monotonic()
        self.stderr = open(os.path.join(workdir, f"{node_id}.stderr"), "w")
        args = ["ip", "netns", "exec", lab.ns_of(host), binary,
                f"--bind={lab.ip_of(host)}:{lab.port}", f"--id={node_id}",
                f"--name-server={lab.dns_ip}:53"] + list(flags)
        if join:
            args.append(f"--join={lab.name}")
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr, text=True, bufsize=1)
        threading.Thread(target=self.read, daemon=True).start()
        Agent.all.append(self)

    def read(self):
        for line in self.process.stdout:
            event = json.loads(line)
            with Agent.changed:
                self.events.append((time.monotonic(), event))
                Agent.changed.notify_all()

    def command(self, line):
        """Writes a command line to the agent's stdin; False if it is gone."""
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def seen(self, event, node, key=None, value=None, since=0.0):
        """When this agent first printed `event` about `node` after `since`."""
        with Agent.changed:
            for at, e in self.events:
                if (at >= since and e.get("event") == event and e.get("node") == node
                        and (key is None or (e.get("key"), e.get("value")) == (key, value))):
                    return at
        return None

    def running(self):
        return self.process.poll() is None

    @classmethod
    def stop_all(cls):
        for agent in cls.all:
            if agent.running():
                agent.process.kill()
            agent.process.wait()


# --------------------------------------------------------------------------
# Setup


def require_netns(what, command):
    """Exits 0 with a reason where namespaces cannot be made here."""
    if os.geteuid() != 0:
        print(f"{what} skipped: not root (network namespaces need it): run `sudo {command}`")
        sys.exit(0)
    if shutil.which("ip") is None or sh("ip", "netns", "list", check=False).returncode != 0:
        print(f"{what} skipped: `ip netns` is not available")
        sys.exit(0)


def install(package, command):
    if shutil.which(command):
        return
    print(f"installing {package} (for {command})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                   env=env, check=False, stdout=subprocess.DEVNULL)


def require_dnsmasq():
    install("dnsmasq-base", "dnsmasq")
    if shutil.which("dnsmasq") is None:
        raise RuntimeError("dnsmasq is missing and apt-get could not install dnsmasq-base")


def agent_binary(release=False):
    """KITE_BIN, else the agent built by cargo (debug, or with `release`)."""
    if os.environ.get("KITE_BIN"):
        return os.environ["KITE_BIN"]
    if shutil.which("cargo") is None:
        raise RuntimeError("cargo is not on PATH (try `sudo env PATH=$PATH ...`, "
                           "or set KITE_BIN)")
    profile = ["--release"] if release else []
    print("building the agent: " + " ".join(["cargo", "build", *profile, "-p", "kite-agent",
                                             "--bin", "kite"]))
    subprocess.run(["cargo", "build", "--quiet", *profile, "-p", "kite-agent", "--bin", "kite"],
                   cwd=ROOT, check=True)
    meta = subprocess.run(["cargo", "metadata", "--format-version=1", "--no-deps"], cwd=ROOT,
                          check=True, stdout=subprocess.PIPE, text=True).stdout
    return os.path.join(json.loads(meta)["target_directory"],
                        "release" if release else "debug", "kite")


def interrupt_on_sigterm(stopping):
    """SIGTERM raises KeyboardInterrupt (as SIGINT does), noting the signal."""
    def interrupted(number, _frame):
        stopping.append(number)
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)


def ignore_signals():
    """For cleanup: a second SIGINT or SIGTERM must not cut it short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
