#!/usr/bin/env python3
"""Runs the walkthrough of a Markdown page and compares the outputs it shows.

Driven by tests/netns/doc_walkthrough_test.cpp (netns tier, as root). The
`<!-- doc-test: ... -->` convention the pages follow, the hosts it builds
and how outputs are compared are described in docs/architecture.md, "The
docs' walkthroughs are tests".

Usage: doc_walkthrough.py PAGE --prefix cordon-UNIQUE --cordon BINARY
"""

import argparse
import fcntl
import os
import pty
import select
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import termios
import time

ANNOTATION = re.compile(r"^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w-]*)")
PRINTS = re.compile(r"#\s*prints:\s*(.*)$")
OVERLAYS = ["/etc", "/root", "/var/lib", "/usr/local"]
STEP_TIMEOUT_S = 60
DAEMON_READY_S = 20


class DocFailure(Exception):
    pass


def options(text):
    opts = {}
    for word in shlex.split(text):
        key, _, value = word.partition("=")
        opts[key] = value
    return opts


class Block:
    def __init__(self, line, info, lines, opts):
        self.line, self.info, self.lines, self.opts = line, info, lines, opts

    def hosts(self):
        return [h for h in self.opts.get("host", "").split(",") if h]


def prompted(line, hosts):
    """Whether `line` is `HOST# command` for a host of the walkthrough."""
    m = re.match(r"^([\w-]+)# ", line)
    return bool(m) and m.group(1) in hosts


def parse_page(path):
    """The walkthrough's hosts {name: address} and its blocks, in order."""
    lines = open(path, encoding="utf-8").read().split("\n")
    hosts, blocks, pending, inside, i = None, [], None, False, 0
    while i < len(lines):
        m = ANNOTATION.match(lines[i])
        f = FENCE.match(lines[i])
        if m:
            opts = options(m.group(1))
            if "begin" in opts:
                hosts = dict(h.split(":", 1) for h in opts["hosts"].split(","))
                inside = True
            elif "end" in opts:
                inside = False
            else:
                pending = (i + 1, opts)
            i += 1
            continue
        elif f:
            start, fence = i, f.group(1)
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            if inside:
                opts = pending[1] if pending else None
                if opts is None and not (body and prompted(body[0], hosts)):
                    raise DocFailure(f"{path}:{start + 1}: a block in the walkthrough has no "
                                     "<!-- doc-test: ... --> comment before it and does not "
                                     "start with a `HOST# ` prompt; add one (host=, file= or "
                                     "skip=)")
                blocks.append(Block(start + 1, f.group(2), body, opts or {}))
            pending = None
        elif lines[i].strip() and pending is not None:
            raise DocFailure(f"{path}:{pending[0]}: a doc-test comment must come just before "
                             "its block (blank lines may sit between them)")
        i += 1
    if hosts is None:
        raise DocFailure(f"{path}: no <!-- doc-test: begin hosts=... --> comment")
    return hosts, blocks


# ---------------------------------------------------------------------------
# Shape comparison

SECRET = re.compile(r"\b(?=[a-z0-9]*\d)[a-z0-9]{16,}\b")
MASKS = [
    # How many workers there are, and what each carried, follows the
    # machine's CPUs: the line is there, its contents are the machine's.
    (re.compile(r"^workers: .*"), "workers: <per worker>"),
    # A key-generation row's NEXT REKEY is "-" while a round is under way
    # (docs/administration.md, "Pass traffic") and a time once it is done.
    (re.compile(r"^(0x[0-9a-f]{8}\s+\d+\s+(?:peer|this host)\s+\w+\s+(?:\d+ \w+ ago|just now|never))"
                r"\s+(?:-|now|in \d+ (?:s|min|h|d))(?=\s)"), r"\1 <when>"),
    (re.compile(r"just now|never|\d+ (s|min|h|d) ago"), "<age>"),
    # Key generations: where a rekey round stands, and when the next one
    # comes, depend on the moment `cordon status` runs.
    (re.compile(r"\b(idle|offered|answered|switching)\b"), "<phase>"),
    (re.compile(r"\b(now|in \d+ (s|min|h|d))\b"), "<when>"),
    (re.compile(r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)\b"), "<size>"),
    (re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b"), "<month>"),
    (SECRET, "<secret>"),
    (re.compile(r"\d+"), "#"),
    (re.compile(r"\s+"), " "),
]


def shape(line):
    for pattern, mask in MASKS:
        line = pattern.sub(mask, line)
    return line.strip()


def compare(expected, actual, where, secrets):
    """Raises DocFailure when `actual` lines differ in shape from `expected`.
    Learns which real secret (a generated password) stands where the page
    shows its own, so that later commands that quote it get the real one."""
    exp = [shape(l) for l in expected]
    act = [shape(l) for l in actual]
    while act and not act[-1]:
        act.pop()
    while exp and not exp[-1]:
        exp.pop()
    if not matches(exp, act):
        raise DocFailure(f"{where}: the output differs from what the page shows\n"
                         "--- page (masked)\n" + "\n".join(exp) +
                         "\n--- real run (masked)\n" + "\n".join(act) +
                         "\n--- real run\n" + "\n".join(actual) +
                         "\nRegenerate the page's output from a real run.")
    if "..." not in exp:
        for e, a in zip(expected, actual):
            for doc, real in zip(SECRET.findall(e), SECRET.findall(a)):
                secrets[doc] = real


def matches(exp, act):
    if not exp:
        return not act
    if exp[0] == "...":
        return any(matches(exp[1:], act[k:]) for k in range(len(act) + 1))
    return bool(act) and exp[0] == act[0] and matches(exp[1:], act[1:])


# ---------------------------------------------------------------------------
# Hosts

AGENT = r"""
set -e
for d in {overlays}; do
  n=$(echo "$d" | tr / _)
  mkdir -p "$SCRATCH/$n/up" "$SCRATCH/$n/work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$SCRATCH/$n/up,workdir=$SCRATCH/$n/work" "$d"
done
mount -t tmpfs tmpfs /run
# A fresh machine: hide the real machine's Cordon files, in the overlays only.
mountpoint -q /etc && mountpoint -q /var/lib && mountpoint -q /root
rm -rf /etc/cordon /var/lib/cordon /root/keysets /root/*.keyset
mkdir -p /run/doc-test/hostproc
mount --rbind /proc /run/doc-test/hostproc
mount -t proc proc /proc
install -m 0755 "$CORDON_BIN" /usr/local/bin/cordon
install -m 0755 "$SHIM" /usr/local/bin/ssh
install -m 0755 "$SCP_SHIM" /usr/local/bin/scp
echo ready
read -r _ || true
"""

SSH_SHIM = r"""#!/bin/sh
# Stand-in for ssh in a docs walkthrough: runs the command in the mount and
# network namespaces of the test host that has the address.
for a in "$@"; do case "$a" in -*) shift ;; *) break ;; esac; done
target=${1#*@}; shift
pid=$(cat "HOSTS_DIR/$target") || { echo "ssh stand-in: no test host $target" >&2; exit 255; }
exec nsenter --mount=/run/doc-test/hostproc/$pid/ns/mnt --net=/run/doc-test/hostproc/$pid/ns/net \
  -- /bin/sh -c "cd /root && $*"
"""


SCP_SHIM = r"""#!/bin/sh
# Stand-in for scp in a docs walkthrough: `scp FILE root@ADDRESS:[PATH]`
# copies FILE through the ssh stand-in (PATH defaults to root's home).
[ $# -eq 2 ] || { echo "scp stand-in: give FILE root@ADDRESS:[PATH]" >&2; exit 2; }
dest=${2#*:}; [ -n "$dest" ] || dest=$(basename "$1")
ssh "${2%%:*}" "umask 077 && cat > '$dest'" < "$1"
"""


def sh(argv, check=True, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, **kw)
    if check and r.returncode != 0:
        raise DocFailure(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class Host:
    def __init__(self, net, name, address, scratch, cordon_bin, shim):
        self.name, self.address, self.ns = name, address, f"{net.prefix}-{name}"
        self.daemons = 0
        sh(["ip", "netns", "add", self.ns])
        net.namespaces.append(self.ns)
        idx = len(net.namespaces) - 1
        port = f"p{idx}"
        sh(["ip", "-n", net.bridge, "link", "add", port, "type", "veth", "peer", "name", "ul0",
            "netns", self.ns])
        sh(["ip", "-n", net.bridge, "link", "set", port, "master", "br0", "up"])
        for cmd in (["link", "set", "lo", "up"], ["addr", "add", address + "/24", "dev", "ul0"],
                    ["link", "set", "ul0", "up"]):
            sh(["ip", "-n", self.ns] + cmd)
        env = dict(os.environ, SCRATCH=os.path.join(scratch, name), CORDON_BIN=cordon_bin,
                   SHIM=shim, SCP_SHIM=os.path.join(scratch, "scp"))
        self.agent = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private",
             "--pid", "--fork", "--", "/bin/sh", "-c",
             AGENT.replace("{overlays}", " ".join(OVERLAYS))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        net.hosts[name] = self
        if self.agent.stdout.readline().strip() != "ready":
            raise DocFailure(f"host {name}: the private mounts could not be set up")
        with open(os.path.join(net.hosts_dir, address), "w") as f:
            f.write(str(self.agent.pid))

    def enter(self):
        p = self.agent.pid
        # No --wd: nsenter opens it before it enters the mount namespace.
        return ["nsenter", "-t", str(p), "-m", "-n", f"--pid=/proc/{p}/ns/pid_for_children",
                "--", "/usr/bin/env", "-i", "HOME=/root", "LANG=C.UTF-8",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    def run(self, command, tty_input=None):
        """(exit code, stdout and stderr) of `command` in bash on this host.
        With `tty_input`, the command gets a terminal and the text is typed
        when it prompts for a password."""
        argv = self.enter() + ["/bin/bash", "-c", "cd /root || exit 1\n" + command]
        if tty_input is not None:
            return run_on_terminal(argv, tty_input)
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT_S)
        return r.returncode, r.stdout

    def start_daemon(self, command, where):
        """Starts `cordon up` in the background; returns its log once it runs."""
        self.daemons += 1
        log = f"/run/doc-test/daemon{self.daemons}.log"
        code, out = self.run(f"{command} >{log} 2>&1 & echo $! >{log}.pid")
        if code != 0:
            raise DocFailure(f"{where}: could not start `{command}`: {out}")
        deadline = time.monotonic() + DAEMON_READY_S
        while time.monotonic() < deadline:
            _, text = self.run(f"cat {log}")
            if "cordon up:" in text:
                return text
            alive, _ = self.run(f"kill -0 $(cat {log}.pid)")
            if alive != 0:
                raise DocFailure(f"{where}: `{command}` on {self.name} exited:\n{text}")
            time.sleep(0.1)  # polling the log until the deadline
        raise DocFailure(f"{where}: `{command}` on {self.name} did not start within "
                         f"{DAEMON_READY_S} s:\n{text}")

    def check_daemons(self, page):
        """Every daemon the walkthrough started still runs at its end (a
        SIGHUP or an update must not have stopped one)."""
        for n in range(1, self.daemons + 1):
            log = f"/run/doc-test/daemon{n}.log"
            # A daemon that exited stays a zombie here (nothing reaps it).
            code, _ = self.run(f"s=$(cut -d' ' -f3 /proc/$(cat {log}.pid)/stat) && [ \"$s\" != Z ]")
            if code != 0:
                _, text = self.run(f"cat {log}")
                raise DocFailure(f"{page}: the daemon on {self.name} stopped before the end of the "
                                 f"walkthrough:\n{text}")

    def stop(self):
        if self.agent.poll() is None:
            self.run("for f in /run/doc-test/daemon*.log.pid; do [ -e \"$f\" ] && "
                     "kill -TERM $(cat \"$f\") 2>/dev/null; done; "
                     "for i in $(seq 100); do pidof cordon >/dev/null || exit 0; sleep 0.05; done")
            self.agent.stdin.close()
            try:
                self.agent.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()


def echoing(master):
    return bool(termios.tcgetattr(master)[3] & termios.ECHO)


def run_on_terminal(argv, text):
    """Runs argv with a pseudo-terminal as its controlling terminal; types
    `text` and Enter once it has printed "Password" and turned echo off
    (typed earlier, the text would be echoed or flushed)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    out, typed = b"", False
    deadline = time.monotonic() + STEP_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not typed and b"Password" in out and not echoing(master):
                os.write(master, text.encode() + b"\n")
                typed = True
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last user has gone
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        if p.poll() is None and time.monotonic() >= deadline:
            p.kill()
    code = p.wait()
    return code, out.decode(errors="replace").replace("\r\n", "\n")


class Network:
    def __init__(self, prefix):
        self.prefix, self.namespaces, self.hosts, self.secrets = prefix, [], {}, {}
        self.scratch = tempfile.mkdtemp(prefix="cordon-doc-")

    def add_hosts(self, hosts, cordon_bin):
        """The bridge and one host per {name: address}; close() removes what
        was made, also when this fails half-way."""
        self.hosts_dir = os.path.join(self.scratch, "hosts")
        os.mkdir(self.hosts_dir)
        shim = os.path.join(self.scratch, "ssh")
        with open(shim, "w") as f:
            f.write(SSH_SHIM.replace("HOSTS_DIR", self.hosts_dir))
        with open(os.path.join(self.scratch, "scp"), "w") as f:
            f.write(SCP_SHIM)
        self.bridge = f"{self.prefix}-sw"
        sh(["ip", "netns", "add", self.bridge])
        self.namespaces.append(self.bridge)
        sh(["ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge"])
        sh(["ip", "-n", self.bridge, "link", "set", "br0", "up"])
        for name, address in hosts.items():
            Host(self, name, address, self.scratch, cordon_bin, shim)

    def close(self):
        for h in self.hosts.values():
            try:
                h.stop()
            except Exception as e:  # keep cleaning up
                print(f"doc-test: stopping host {h.name}: {e}", file=sys.stderr)
        for ns in reversed(self.namespaces):
            sh(["ip", "netns", "del", ns], check=False)
        sh(["rm", "-rf", "--one-file-system", self.scratch], check=False)


# ---------------------------------------------------------------------------
# Steps

def commands(lines):
    """(line offset, command, expected output or None) for a `sh` block."""
    out, buf, first = [], "", None
    for k, line in enumerate(lines):
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if first is None:
            first = k
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        m = PRINTS.search(buf)
        out.append((first, buf, [m.group(1)] if m else None))
        buf, first = "", None
    return out


def transcript(block, hosts):
    """(line offset, host, command, expected output lines) for a transcript."""
    prompt = re.compile(r"^(" + "|".join(map(re.escape, hosts)) + r")?# (.*)$")
    default = block.hosts()[0] if block.hosts() else None
    steps = []
    for k, line in enumerate(block.lines):
        m = prompt.match(line)
        if m and (m.group(1) or default):
            steps.append((k, m.group(1) or default, m.group(2), []))
        elif steps:
            steps[-1][3].append(line)
        else:
            raise DocFailure(f"line {block.line + 1 + k}: output before any prompt "
                             "(`HOST# command`)")
    return steps


class Step:
    """What run_command needs besides the command: where it is on the page,
    the block's options, and the secrets learnt so far."""

    def __init__(self, where, opts, secrets):
        self.where, self.opts, self.secrets = where, opts, secrets


def run_command(host, command, expected, step):
    for doc, real in step.secrets.items():
        command = command.replace(doc, real)
    if "env" in step.opts:
        command = f"export {step.opts['env']}; {command}"
    if re.match(r"^(export [^;]*; )?cordon up\b", command):
        actual = host.start_daemon(command, step.where).split("\n")
        if expected is not None:
            upto = next(i for i, l in enumerate(actual) if "cordon up:" in l)
            compare(expected, actual[:upto + 1], step.where, step.secrets)
        return
    must_fail = "fails" in step.opts and command.startswith(step.opts["fails"])
    code, out = host.run(command, step.opts.get("tty"))
    if must_fail and code == 0:
        raise DocFailure(f"{step.where}: `{command}` on {host.name} succeeded; the page shows "
                         f"it failing (fails=):\n{out}")
    if code != 0 and not must_fail:
        raise DocFailure(f"{step.where}: `{command}` on {host.name} failed (exit {code}):\n{out}")
    if expected is not None:
        compare(expected, out.rstrip("\n").split("\n"), step.where, step.secrets)


def check_log(host, expected, where):
    """The lines must appear, one after the other, in the host's daemon log."""
    _, text = host.run(f"cat /run/doc-test/daemon{host.daemons}.log")
    exp, act = [shape(l) for l in expected], [shape(l) for l in text.split("\n")]
    if not any(act[k:k + len(exp)] == exp for k in range(len(act))):
        raise DocFailure(f"{where}: the daemon log of {host.name} has no such lines\n"
                         "--- page (masked)\n" + "\n".join(exp) +
                         "\n--- log\n" + text + "\nRegenerate the page's output from a real run.")


def run_before(page, net, block):
    """The block's before= command: on `HOST# ` if it has a prompt, else on
    each of the block's hosts."""
    step = Step(f"{page}:{block.line} (before=)", {}, net.secrets)
    m = re.match(r"^(\w[\w-]*)# (.*)$", block.opts["before"])
    if m and m.group(1) in net.hosts:
        run_command(net.hosts[m.group(1)], m.group(2), None, step)
        return
    for name in block.hosts():
        run_command(net.hosts[name], block.opts["before"], None, step)


def run_block(page, net, block):
    opts = block.opts
    if "skip" in opts:
        return
    for name in block.hosts():
        if name not in net.hosts:
            raise DocFailure(f"{page}:{block.line}: host={name} is not in the walkthrough's hosts")
    if "before" in opts:
        run_before(page, net, block)
    if "log" in opts:
        check_log(net.hosts[opts["log"]], block.lines, f"{page}:{block.line}")
    elif "file" in opts:
        content = "\n".join(block.lines) + "\n"
        for name in block.hosts():
            path = opts["file"]
            code, out = net.hosts[name].run(
                f"cat > {shlex.quote(path)} <<'DOC_TEST_EOF'\n{content}DOC_TEST_EOF")
            if code != 0:
                raise DocFailure(f"{page}:{block.line}: writing {path} on {name} failed: {out}")
    elif block.info == "sh":
        for name in block.hosts():
            for k, command, expected in commands(block.lines):
                step = Step(f"{page}:{block.line + 1 + k}", opts, net.secrets)
                run_command(net.hosts[name], command, expected, step)
    else:
        for k, name, command, expected in transcript(block, net.hosts):
            step = Step(f"{page}:{block.line + 1 + k}", opts, net.secrets)
            run_command(net.hosts[name], command, expected, step)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("page")
    ap.add_argument("--prefix", required=True, help="namespace name prefix, cordon-...")
    ap.add_argument("--cordon", required=True, help="the cordon binary under test")
    args = ap.parse_args()
    if not args.prefix.startswith("cordon-"):
        sys.exit("--prefix must start with cordon-")
    # SIGTERM (a ctest timeout) unwinds like a failure, so the hosts are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("doc-test: stopped by SIGTERM"))
    try:
        hosts, blocks = parse_page(args.page)
        net = Network(args.prefix)
        try:
            net.add_hosts(hosts, os.path.abspath(args.cordon))
            for block in blocks:
                run_block(args.page, net, block)
            for host in net.hosts.values():
                host.check_daemons(args.page)
        finally:
            net.close()
    except subprocess.TimeoutExpired as e:
        print(f"doc-test: {' '.join(e.cmd)}: no answer within {e.timeout} s", file=sys.stderr)
        return 1
    except DocFailure as e:
        print(f"doc-test: {e}", file=sys.stderr)
        return 1
    print(f"doc-test: {args.page}: {len(blocks)} blocks ran as shown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
