#!/usr/bin/env python3
"""Runs the README's quickstart against real binaries, expect-style, and fails loudly.

    python3 scripts/quickstart-check.py [BIN_DIR]

BIN_DIR holds `hush-relay` and `hush` (default: $HUSH_BIN_DIR, else target/release); this script
builds nothing. It starts a relay on 127.0.0.1 (a free port, metrics off, a temporary data
directory), creates two profiles (alice, bob), exchanges addresses, compares safety numbers,
chats through two long-running `hush chat` processes (message, sent and read marks,
reply), checks `hush inbox`, then drives the two chat screens (the terminal UI) in tmux
(send-keys to type, capture-pane to read the screen: messages, status marks, scrollback, a
resize, quitting), and then the two failure paths a user meets first: a wrong passphrase, and
`send` while the relay is down. Every wait has a deadline; nothing sleeps to synchronise (the
screens are polled until the expected text shows). Exit status 0 means every step passed.
Standard library and tmux only.
"""

import argparse
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

STEP_TIMEOUT = 20.0  # seconds to wait for one expected line
COMMAND_TIMEOUT = 40.0  # seconds for one short-lived `hush` command (send waits 10 s when offline)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DATED = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"  # how `hush inbox` and `history` print a time

PASSPHRASES = {
    "alice": "alice's correct horse",
    "bob": "bob's battery staple",
    "alice-laptop": "alice's laptop staple",
    "carol": "carol's tr0ub4dor",
}

started = time.monotonic()
children = []
verbose = False


class Failure(Exception):
    pass


def step(text):
    print(f"[{time.monotonic() - started:6.2f}s] {text}", flush=True)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUSH_", "RUST_LOG"))}
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


class Child:
    """A long-running process whose merged stdout/stderr is read line by line by a thread."""

    def __init__(self, name, argv, env, stdin=False):
        self.name = name
        self.lines = queue.Queue()
        self.log = []  # every line seen, for failure reports
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        children.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = ANSI.sub("", line.rstrip("\r\n"))
            self.log.append(line)
            if verbose:
                print(f"          {self.name} | {line}", flush=True)
            self.lines.put(line)
        self.lines.put(None)  # end of output

    def expect(self, pattern, timeout=STEP_TIMEOUT, what=None):
        """Consumes lines until one matches `pattern`; returns the match."""
        return self.expect_all([pattern], timeout, what)[0]

    def expect_all(self, patterns, timeout=STEP_TIMEOUT, what=None):
        """Consumes lines until each of `patterns` has matched one line, in any order."""
        wanted = {i: re.compile(p) for i, p in enumerate(patterns)}
        found = [None] * len(patterns)
        deadline = time.monotonic() + timeout
        while wanted:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0)) if left > 0 else self.lines.get_nowait()
            except queue.Empty:
                raise Failure(self._missing(what, wanted, f"nothing matched within {timeout:.0f}s"))
            if line is None:
                self.lines.put(None)
                code = self.proc.wait()
                raise Failure(self._missing(what, wanted, f"the process ended (exit {code}) first"))
            for i, regex in list(wanted.items()):
                match = regex.search(line)
                if match:
                    found[i] = match
                    del wanted[i]
                    break
        return found

    def _missing(self, what, wanted, why):
        patterns = ", ".join(repr(r.pattern) for r in wanted.values())
        return f"{self.name}: expected {what or patterns}; {why}.\n{self.tail()}"

    def send_line(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def wait(self, timeout=STEP_TIMEOUT):
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name} did not exit within {timeout:.0f}s.\n{self.tail()}")
        self.reader.join(timeout=5)
        return code

    def tail(self, count=40):
        lines = self.log[-count:]
        return f"--- last {len(lines)} lines of {self.name} ---\n" + "\n".join(f"  | {l}" for l in lines)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Tmux:
    """A private tmux server (its own socket), one session per chat screen, each running a shell."""

    POLL = 0.1  # seconds between two looks at a screen while waiting for it

    def __init__(self, home):
        if shutil.which("tmux") is None:
            raise Failure("tmux is missing (apt-get install tmux)")
        self.socket = os.path.join(home, "tmux.sock")
        self.started = False
        tmuxes.append(self)

    def cmd(self, *args):
        # -u: the screens are UTF-8 (box drawing) whatever the locale says.
        done = subprocess.run(["tmux", "-u", "-S", self.socket, *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              encoding="utf-8", errors="replace", env=clean_env(), timeout=10)
        if done.returncode != 0:
            raise Failure(f"`tmux {' '.join(args)}` failed with exit {done.returncode}:\n{done.stdout}")
        return done.stdout

    def open(self, name, width, height, **env):
        """A session `name` of `width`x`height` running a plain shell with `env` set."""
        settings = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self.cmd("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
                 "-e", "PS1=$ ", *settings, "bash --norc --noprofile")
        self.started = True

    def type(self, name, text, enter=True):
        self.cmd("send-keys", "-t", name, "-l", text)
        if enter:
            self.keys(name, "Enter")

    def keys(self, name, *keys):
        self.cmd("send-keys", "-t", name, *keys)

    def screen(self, name):
        return self.cmd("capture-pane", "-p", "-t", name)

    def wait_for(self, name, check, what, timeout=STEP_TIMEOUT):
        """Polls `name`'s screen until `check` (a regex, or a function of the screen's lines)
        holds; returns the screen."""
        if isinstance(check, str):
            regex = re.compile(check, re.MULTILINE)
            check = lambda lines: regex.search("\n".join(lines))  # noqa: E731
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(name)
            if check(screen.splitlines()):
                if verbose:
                    print("\n".join(f"          {name} | {l}" for l in screen.splitlines()), flush=True)
                return screen
            if time.monotonic() > deadline:
                raise Failure(f"{name}'s screen: expected {what}; not within {timeout:.0f}s. The screen:\n{screen}")
            time.sleep(self.POLL)

    def kill(self):
        if self.started:
            subprocess.run(["tmux", "-S", self.socket, "kill-server"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)
            self.started = False


tmuxes = []
strays = []  # pids of chats that should have exited by themselves


def kill_children():
    for tmux in tmuxes:
        tmux.kill()
    for pid in strays:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()


class Hush:
    def __init__(self, binary, home):
        self.binary = binary
        self.home = home

    def profile(self, who):
        return os.path.join(self.home, who)

    def run(self, who, *args, passphrase=None, check=True, timeout=COMMAND_TIMEOUT, prompt=False):
        """Runs one `hush` command for `who`; returns (exit code, output). The passphrase goes in
        HUSH_PASSPHRASE, or with `prompt` on standard input as a person would type it."""
        argv = [self.binary, "-p", self.profile(who), *args]
        passphrase = passphrase if passphrase is not None else PASSPHRASES[who]
        env = clean_env() if prompt else clean_env(HUSH_PASSPHRASE=passphrase)
        try:
            done = subprocess.run(
                argv,
                input=passphrase + "\n" if prompt else None,
                stdin=None if prompt else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as error:
            raise Failure(f"`hush {' '.join(args)}` ({who}) did not finish within {timeout:.0f}s:\n{error.output}")
        output = ANSI.sub("", done.stdout or "")
        if verbose:
            print("\n".join(f"          hush {args[0]} ({who}) | {l}" for l in output.splitlines()), flush=True)
        if check and done.returncode != 0:
            raise Failure(f"`hush {' '.join(args)}` ({who}) failed with exit {done.returncode}:\n{output}")
        return done.returncode, output

    def chat(self, who, peer):
        argv = [self.binary, "-p", self.profile(who), "chat", peer]
        return Child(f"{who}'s chat", argv, clean_env(HUSH_PASSPHRASE=PASSPHRASES[who]), stdin=True)

    def group_chat(self, who, group):
        argv = [self.binary, "-p", self.profile(who), "chat", "--group", group]
        return Child(f"{who}'s group chat", argv, clean_env(HUSH_PASSPHRASE=PASSPHRASES[who]), stdin=True)


def need(condition, message):
    if not condition:
        raise Failure(message)


def grab(pattern, text, what):
    match = re.search(pattern, text, re.MULTILINE)
    need(match, f"no {what} in:\n{text}")
    return match.group(1)


def quickstart(bin_dir, home):
    relay_bin = os.path.join(bin_dir, "hush-relay")
    hush_bin = os.path.join(bin_dir, "hush")
    for binary in (relay_bin, hush_bin):
        need(os.access(binary, os.X_OK), f"{binary} is missing; build it first "
             "(cargo build --release -p hush-relay -p hush-client --bins) or pass the binaries' directory")
    hush = Hush(hush_bin, home)

    def start_relay(port=0, name="hush-relay"):
        relay = Child(
            name,
            [relay_bin, "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(home, "relay-data"),
             "--metrics-listen", "off"],
            clean_env(),
        )
        return relay, relay.expect(r"relay address for clients: (\S+:\d+#[0-9a-f]{64})\s*$").group(1)

    def stop_relay(relay):
        relay.proc.send_signal(signal.SIGTERM)
        code = relay.wait()
        need(code == 0, f"the relay exited with {code} on SIGTERM.\n{relay.tail()}")

    step("start the relay on 127.0.0.1, a free port, metrics off")
    relay, relay_address = start_relay()
    port = relay_address.split("#")[0].rsplit(":", 1)[1]
    step(f"  relay address: {relay_address}")

    addresses = {}
    for who in ("alice", "bob"):
        step(f"hush init {who}")
        _, out = hush.run(who, "init", "--relay", relay_address)
        addresses[who] = grab(r"^address: (hush:[0-9a-f]{64})$", out, f"address from {who}'s init")
        grab(r"^safety number \(your half\): (\d+)$", out, f"safety-number half from {who}'s init")
        need("registered with relay" in out, f"{who}'s init did not register:\n{out}")
        # The passphrase typed at the prompt (standard input) opens the same profile.
        _, out = hush.run(who, "address", prompt=True)
        need(f"address: {addresses[who]}" in out, f"`hush address` for {who} disagrees with init:\n{out}")
        step(f"  {who}: {addresses[who]}")

    step("exchange addresses (contact add)")
    _, out = hush.run("alice", "contact", "add", "bob", addresses["bob"])
    need("bob: Added" in out, f"alice could not add bob:\n{out}")
    _, out = hush.run("bob", "contact", "add", "alice", addresses["alice"])
    need("alice: Added" in out, f"bob could not add alice:\n{out}")
    _, out = hush.run("alice", "contact", "list")
    need(f"bob\t{addresses['bob']}" in out, f"alice's contact list lacks bob:\n{out}")

    step("compare safety numbers")
    _, out = hush.run("alice", "safety", "bob")
    alice_number = grab(r"^safety number with bob: ([\d ]+)$", out, "safety number (alice)")
    _, out = hush.run("bob", "safety", "alice", "--verify")
    bob_number = grab(r"^safety number with alice: ([\d ]+)$", out, "safety number (bob)")
    need(alice_number == bob_number, f"safety numbers differ:\n  alice: {alice_number}\n  bob:   {bob_number}")
    need(re.fullmatch(r"(\d{5} ){11}\d{5}", alice_number), f"odd safety number {alice_number!r}")
    need("alice marked verified" in out, f"bob's --verify did not confirm:\n{out}")
    _, out = hush.run("bob", "contact", "list")
    need("(verified)" in out, f"bob's contact list does not show alice verified:\n{out}")
    step(f"  both sides: {alice_number}")

    step("open `hush chat bob` (alice) and `hush chat alice` (bob)")
    alice_chat = hush.chat("alice", "bob")
    bob_chat = hush.chat("bob", "alice")
    alice_chat.expect(r"^-- chatting with bob;")
    bob_chat.expect(r"^-- chatting with alice;")

    step("alice types a line; bob's chat shows it; alice sees it read")
    hello = "hello Bob, it is Alice"
    alice_chat.send_line(hello)
    message_id = alice_chat.expect(r"^  · ([0-9a-f]{8}) queued$", what="the queued mark").group(1)
    bob_chat.expect(rf"^\[\d\d:\d\d:\d\d\] alice: {re.escape(hello)}  #[0-9a-f]{{8}}$", what="alice's message")
    # Bob's chat marks it read at once; the read receipt can overtake the delivered one (which
    # waits 200 ms to batch): statuses only move forward, so the chat then says both at once.
    alice_chat.expect(rf"^  · {message_id} (delivered, )?read$", what=f"the read mark of {message_id}")

    step("bob replies; alice's chat shows it and bob sees it read")
    reply = "hi Alice, safety number checked"
    bob_chat.send_line(reply)
    reply_id = bob_chat.expect(r"^  · ([0-9a-f]{8}) queued$", what="the queued mark").group(1)
    alice_chat.expect(rf"^\[\d\d:\d\d:\d\d\] bob: {re.escape(reply)}  #[0-9a-f]{{8}}$", what="bob's reply")
    bob_chat.expect(rf"^  · {reply_id} (delivered, )?read$", what=f"the read mark of {reply_id}")

    step("close both chats (end of input)")
    alice_chat.close_stdin()
    bob_chat.close_stdin()
    for chat in (alice_chat, bob_chat):
        code = chat.wait()
        need(code == 0, f"{chat.name} exited with {code}.\n{chat.tail()}")

    step("alice: hush send (relay up)")
    later = "one more, sent with hush send"
    _, out = hush.run("alice", "send", "bob", later)
    need(re.search(r"^queued [0-9a-f-]+$", out, re.MULTILINE) and re.search(r"^sent$", out, re.MULTILINE),
         f"`hush send` did not report queued then sent:\n{out}")

    step("bob: hush inbox shows the conversation")
    _, out = hush.run("bob", "inbox")
    need(re.search(r"^== alice \(1 new, marked \*\)$", out, re.MULTILINE),
         f"bob's inbox has no conversation with alice with one new message:\n{out}")
    for mark, text, who in ((" ", hello, "alice"), (" ", reply, "me"), ("*", later, "alice")):
        need(re.search(rf"^{re.escape(mark)} \[{DATED}\] {who}: {re.escape(text)}", out, re.MULTILINE),
             f"bob's inbox lacks {mark} {who}: {text!r}:\n{out}")

    def bounce_relay():
        """Stops the relay; returns a function that starts it again (same port and data)."""
        stop_relay(relay)
        return lambda: start_relay(port, "hush-relay (bounced)")

    relay = chat_screens(hush, home, {"hello": hello, "reply": reply}, bounce_relay)

    step("a wrong passphrase fails")
    code, out = hush.run("bob", "inbox", passphrase="not bob's passphrase", check=False)
    need(code != 0, f"a wrong passphrase exited 0:\n{out}")
    need("wrong passphrase" in out, f"a wrong passphrase did not say so:\n{out}")

    step("stop the relay (SIGTERM) and check it exits cleanly")
    stop_relay(relay)

    step("alice: hush send with the relay down keeps the message queued")
    offline = "written while the relay is down"
    code, out = hush.run("alice", "send", "bob", offline, check=False)
    need(code == 3, f"`hush send` with the relay down exited {code}, not 3 (queued, not sent):\n{out}")
    need("relay not reachable" in out and "queued, not sent" in out,
         f"`hush send` with the relay down did not say the message is queued, not sent:\n{out}")

    step("restart the relay on the same port and data directory: same address")
    relay, again = start_relay(port, "hush-relay (restarted)")
    need(again == relay_address, f"the restarted relay has another address: {again} (was {relay_address})")

    step("alice: the next send delivers the queued message too")
    back = "the relay is back"
    _, out = hush.run("alice", "send", "bob", back)
    need(re.search(r"^sent$", out, re.MULTILINE), f"`hush send` after the restart did not report sent:\n{out}")

    step("bob: hush inbox shows both, once each, in order")
    _, out = hush.run("bob", "inbox")
    positions = []
    for text in (offline, back):
        found = re.findall(rf"^\* \[{DATED}\] alice: {re.escape(text)}$", out, re.MULTILINE)
        need(len(found) == 1, f"bob's inbox shows {text!r} {len(found)} times:\n{out}")
        positions.append(out.index(text))
    need(positions[0] < positions[1], f"bob's inbox shows alice's messages out of order:\n{out}")

    two_devices(hush, relay_address)
    groups(hush, relay_address, addresses)


def two_devices(hush, relay_address):
    """README "Alice on two devices": the laptop prints a code, the phone profile types it."""
    step("alice-laptop: hush init --link prints a code and waits")
    laptop = Child(
        "alice-laptop's init --link",
        [hush.binary, "-p", hush.profile("alice-laptop"), "init", "--link", "--relay", relay_address],
        clean_env(HUSH_PASSPHRASE=PASSPHRASES["alice-laptop"]),
    )
    code = laptop.expect(r"^link code: ([a-z2-7]{144})$", what="the link code").group(1)

    step("alice: hush device link CODE")
    _, out = hush.run("alice", "device", "link", code)
    linked = grab(r"^linked device ([0-9a-f]{64})$", out, "the linked device's id")
    laptop.expect(r"^joined account [0-9a-f]{64} \(2 devices\)$", what="the join")
    code = laptop.wait()
    need(code == 0, f"alice-laptop's init --link exited with {code}.\n{laptop.tail()}")

    step("both list the same two devices; the laptop has alice's contacts")
    lists = {}
    for who in ("alice", "alice-laptop"):
        _, out = hush.run(who, "device", "list")
        lists[who] = sorted(re.findall(r"^([0-9a-f]{64})\t", out, re.MULTILINE))
        need(len(lists[who]) == 2 and "(this device)" in out, f"{who}'s device list:\n{out}")
    need(lists["alice"] == lists["alice-laptop"], f"the device lists differ: {lists}")
    need(linked in lists["alice"], f"the linked device {linked} is not listed: {lists}")
    _, out = hush.run("alice-laptop", "contact", "list")
    need(re.search(r"^bob\thush:", out, re.MULTILINE), f"the laptop lacks alice's contact bob:\n{out}")

    step("bob writes to alice's address: both of her devices get it")
    both = "to both of your devices"
    _, out = hush.run("bob", "send", "alice", both)
    need(re.search(r"^sent$", out, re.MULTILINE), f"bob's `hush send` did not report sent:\n{out}")
    # Read on the first device, it may show as read on the laptop already (read-state sync).
    for who in ("alice", "alice-laptop"):
        _, out = hush.run(who, "inbox")
        need(re.search(rf"^[* ] \[{DATED}\] bob: {re.escape(both)}$", out, re.MULTILINE),
             f"{who}'s inbox lacks bob's {both!r}:\n{out}")

    step("alice-laptop writes to bob: he gets it from alice, and her first device shows it as hers")
    from_laptop = "written on the laptop"
    _, out = hush.run("alice-laptop", "send", "bob", from_laptop)
    need(re.search(r"^sent$", out, re.MULTILINE), f"the laptop's `hush send` did not report sent:\n{out}")
    _, out = hush.run("bob", "inbox")
    need(re.search(rf"^\* \[{DATED}\] alice: {re.escape(from_laptop)}$", out, re.MULTILINE),
         f"bob's inbox lacks alice's {from_laptop!r} (sent from her laptop):\n{out}")
    _, out = hush.run("alice", "inbox")
    _, out = hush.run("alice", "history", "bob")
    need(re.search(rf"me: {re.escape(from_laptop)}", out),
         f"alice's first device does not show the laptop's message as hers:\n{out}")

    step("alice: hush device remove (the laptop); one device left")
    _, out = hush.run("alice", "device", "remove", linked[:12])
    need(f"removed device {linked}" in out, f"`hush device remove` did not confirm:\n{out}")
    _, out = hush.run("alice", "device", "list")
    need(linked not in out and out.count("\t") == 1, f"alice still lists the laptop:\n{out}")


def groups(hush, relay_address, addresses):
    """README "Groups": alice makes a group of three, everyone writes, carol is removed."""
    step("hush init carol; carol, alice and bob become contacts and exchange a message")
    _, out = hush.run("carol", "init", "--relay", relay_address)
    addresses["carol"] = grab(r"^address: (hush:[0-9a-f]{64})$", out, "address from carol's init")
    for who, name, address in (("alice", "carol", addresses["carol"]), ("bob", "carol", addresses["carol"]),
                               ("carol", "alice", addresses["alice"]), ("carol", "bob", addresses["bob"])):
        _, out = hush.run(who, "contact", "add", name, address)
        need(f"{name}: Added" in out, f"{who} could not add {name}:\n{out}")
    for who, to in (("carol", "alice"), ("carol", "bob"), ("bob", "carol")):
        _, out = hush.run(who, "send", to, f"hi {to}, it is {who}")
        need(re.search(r"^sent$", out, re.MULTILINE), f"{who}'s `hush send` to {to} did not report sent:\n{out}")
    for who in ("alice", "bob", "carol"):
        hush.run(who, "inbox")

    step("alice: hush group create climbing bob carol")
    _, out = hush.run("alice", "group", "create", "climbing", "bob", "carol")
    group_id = grab(r"^group ([0-9a-f]{32}) climbing$", out, "the new group's id")
    for who, others in (("alice", ("bob", "carol")), ("bob", ("alice (admin)", "carol")),
                        ("carol", ("alice (admin)", "bob"))):
        _, out = hush.run(who, "group", "list")
        line = grab(rf"^({group_id} climbing: .*)$", out, f"the group in {who}'s list")
        need(sorted(line.split(": ", 1)[1].split(", ")) == sorted(others),
             f"{who}'s list shows the members as {line!r}, not {others}")

    step("bob and carol open `hush chat --group climbing`")
    bob_chat = hush.group_chat("bob", "climbing")
    carol_chat = hush.group_chat("carol", "climbing")
    bob_chat.expect(r"^-- chatting in climbing with ", what="bob's group chat opening")
    carol_chat.expect(r"^-- chatting in climbing with ", what="carol's group chat opening")

    step("bob types a line: carol's chat shows it from bob; bob's shows it sent, then read by carol")
    question = "tuesday at six?"
    bob_chat.send_line(question)
    question_id = bob_chat.expect(r"^  · ([0-9a-f]{8}) queued$", what="the queued mark").group(1)
    bob_chat.expect(rf"^  · {question_id} sent$", what=f"the sent mark of {question_id}")
    carol_chat.expect(rf"^\[\d\d:\d\d:\d\d\] bob: {re.escape(question)}$", what="bob's line")
    # Alice's profile is closed: only carol (whose chat marks it read as it shows it) answers.
    bob_chat.expect(rf"^  · {question_id} delivered to 1 of 2, read by 1 of 2$",
                    what=f"carol's read receipt for {question_id}")

    step("alice: hush group send; both chats show it from alice")
    answer = "see you there"
    _, out = hush.run("alice", "group", "send", "climbing", answer)
    need(re.search(r"^sent$", out, re.MULTILINE), f"alice's `hush group send` did not report sent:\n{out}")
    for chat in (bob_chat, carol_chat):
        chat.expect(rf"^\[\d\d:\d\d:\d\d\] alice: {re.escape(answer)}$", what="alice's line")

    step("alice: hush group history shows both, in order; both chats have read hers")
    _, out = hush.run("alice", "group", "history", "climbing")
    need(re.search(rf"^bob: {re.escape(question)}\nme: {re.escape(answer)} \(delivered to \d of 2, "
                   rf"read by \d of 2\)$", out, re.MULTILINE),
         f"alice's group history is not bob's question then her answer:\n{out}")
    # The chats sent their read receipts as they showed her line; `group history` fetches them.
    for _ in range(20):
        _, out = hush.run("alice", "group", "history", "climbing")
        if f"me: {answer} (delivered to 2 of 2, read by 2 of 2)" in out:
            break
    need(f"me: {answer} (delivered to 2 of 2, read by 2 of 2)" in out,
         f"alice's group history does not show her line read by both:\n{out}")

    step("alice removes carol: both chats say so; bob's next line reaches alice, not carol")
    _, out = hush.run("alice", "group", "remove", "climbing", "carol")
    need("removed carol from climbing" in out, f"`hush group remove` did not confirm:\n{out}")
    carol_chat.expect(r"^  ! you are no longer a member of climbing$", what="carol's removal")
    bob_chat.expect(r"^  \(group climbing now: me, alice \(admin\)\)$", what="the group without carol")
    after = "just the two of us"
    bob_chat.send_line(after)
    after_id = bob_chat.expect(r"^  · ([0-9a-f]{8}) queued$", what="the queued mark").group(1)
    bob_chat.expect(rf"^  · {after_id} sent$", what=f"the sent mark of {after_id}")
    _, out = hush.run("alice", "group", "history", "climbing")
    need(re.search(rf"^bob: {re.escape(after)}$", out, re.MULTILINE),
         f"alice's group history lacks bob's line after the removal:\n{out}")

    step("close both chats; carol's never showed the line sent after her removal")
    for chat in (bob_chat, carol_chat):
        chat.close_stdin()
        code = chat.wait()
        need(code == 0, f"{chat.name} exited with {code}.\n{chat.tail()}")
    need(not any(after in line for line in carol_chat.log), f"carol's chat showed {after!r}:\n{carol_chat.tail()}")
    _, out = hush.run("carol", "group", "history", "climbing")
    need(answer in out and after not in out, f"carol's group history after her removal:\n{out}")
    _, out = hush.run("carol", "group", "list")
    need("climbing [you are no longer a member]" in out, f"carol's list does not show her removed:\n{out}")


def chat_screens(hush, home, said, bounce_relay):
    """The chat screen (`hush chat` at a terminal), two of them in tmux. `bounce_relay()` stops
    the relay and returns a function that starts it again; the running relay is returned."""
    tmux = Tmux(home)

    def start(who, peer, width, height):
        tmux.open(who, width, height, HUSH_PASSPHRASE=PASSPHRASES[who])
        tmux.type(who, f"{hush.binary} -p {hush.profile(who)} chat {peer}")
        return tmux.wait_for(who, rf"^ hush .* online\s*$(.|\n)*message to {peer}",
                             f"the chat screen with {peer}, online")

    step("TUI: alice opens `hush chat bob` at a terminal (tmux, 100x30): history with marks, online")
    screen = start("alice", "bob", 100, 30)
    need(re.search(rf"\d\d:\d\d me: {re.escape(said['hello'])}  \(read\)", screen),
         f"alice's screen does not show her first message as read:\n{screen}")
    need(re.search(rf"\d\d:\d\d bob: {re.escape(said['reply'])}", screen),
         f"alice's screen does not show bob's reply:\n{screen}")
    need(re.search(r"── \w+day \d{4}-\d\d-\d\d ──", screen), f"alice's screen shows no date:\n{screen}")

    # `hush conversations` fetches without reading (inbox would mark the message read).
    step("TUI: alice types a line while bob's chat is closed: sent, then delivered once bob fetches")
    there = "are you there, Bob?"
    tmux.type("alice", there)
    tmux.wait_for("alice", rf"me: {re.escape(there)}  \(sent\)", "the sent mark")
    _, out = hush.run("bob", "conversations")
    need(re.search(rf"^alice\t1 unread\t\[.*\] alice: {re.escape(there)}$", out, re.M),
         f"bob's conversations do not show one unread from alice:\n{out}")
    tmux.wait_for("alice", rf"me: {re.escape(there)}  \(delivered\)", "the delivered mark")

    step("TUI: bob opens `hush chat alice` (100x30): he sees it, alice sees it read")
    start("bob", "alice", 100, 30)
    tmux.wait_for("bob", rf"alice: {re.escape(there)}", "alice's message")
    tmux.wait_for("alice", rf"me: {re.escape(there)}  \(read\)", "the read mark")

    step("TUI: bob replies; alice's screen shows it, bob's marks it read")
    here = "yes, in the terminal UI"
    tmux.type("bob", here)
    tmux.wait_for("alice", rf"\d\d:\d\d bob: {re.escape(here)}", "bob's reply")
    tmux.wait_for("bob", rf"me: {re.escape(here)}  \(read\)", "the read mark")

    # More than one history page (50): the first lines come back only if scrolling loads the page
    # before the one the screen opened with.
    step("TUI: alice sends 60 lines; bob's screen overflows, PageUp (loading earlier pages) brings the first back")
    for n in range(1, 61):
        tmux.type("alice", f"scrollback {n:02}")
    tmux.wait_for("alice", r"me: scrollback 60  \(read\)", "the last line read")
    screen = tmux.wait_for("bob", r"alice: scrollback 60", "the last line")
    need(not re.search(r"scrollback 01\b", screen), f"bob's screen did not overflow:\n{screen}")
    for _ in range(15):
        tmux.keys("bob", "PageUp")
        before = screen
        screen = tmux.wait_for("bob", lambda lines: lines != before.splitlines(), "the screen to scroll", timeout=5)
        if re.search(r"alice: scrollback 01\b", screen):
            break
    need(re.search(r"alice: scrollback 01\b", screen), f"PageUp did not bring the first line back:\n{screen}")
    need(re.search(r" \d+ newer below", screen), f"bob's screen does not say newer lines are below:\n{screen}")
    tmux.keys("bob", "End")
    tmux.wait_for("bob", r"alice: scrollback 60", "the newest line again")

    step("TUI: bob types and pastes two lines (bracketed paste: nothing sent yet)")
    tmux.type("bob", "half a thought", enter=False)
    tmux.cmd("set-buffer", "-b", "paste", " (pasted\nacross lines)")
    tmux.cmd("paste-buffer", "-p", "-b", "paste", "-t", "bob")
    draft = "half a thought (pasted across lines)"
    tmux.wait_for("bob", rf"^│> {re.escape(draft)}\s*│", "the typed and pasted text on the input line")

    step("TUI: a message arriving while bob types leaves his input line alone")
    interrupt = "an interruption"
    tmux.type("alice", interrupt)
    screen = tmux.wait_for("bob", rf"alice: {re.escape(interrupt)}(.|\n)*^│> {re.escape(draft)}\s*│",
                           "the new message above the untouched input line")
    need(not re.search(r"me: half a thought|me: across lines", screen), f"the paste was sent:\n{screen}")

    step("TUI: bob's window shrinks to 44x14: the input line stays at the bottom, the list gives way")
    tmux.cmd("resize-window", "-t", "bob", "-x", "44", "-y", "14")

    def fits(lines):
        return (len(lines) == 14 and all(len(line) <= 44 for line in lines)
                and "online" in lines[0] and "message to alice" in lines[-3]
                and lines[-2].startswith(f"│> {draft}") and not any(" chats " in l for l in lines))
    tmux.wait_for("bob", fits, "the 44x14 layout")

    step("TUI: the relay stops: both screens say offline within 10 s, and online once it is back")
    restart = bounce_relay()
    for who in ("alice", "bob"):
        tmux.wait_for(who, r"^ hush .* offline: ", "the offline state", timeout=10)
    relay, _ = restart()
    for who in ("alice", "bob"):
        tmux.wait_for(who, r"^ hush .* online\s*$", "the online state")
    tmux.keys("bob", "Enter")
    tmux.wait_for("alice", rf"bob: {re.escape(draft)}", "bob's line, sent after the resize and the restart")

    step("TUI: Esc (alice) and Ctrl-C (bob) quit: exit 0, the shell is back, the terminal not raw")
    for who, key in (("alice", "Escape"), ("bob", "C-c")):
        tmux.keys(who, key)
        tmux.wait_for(who, lambda lines: not any("message to" in l for l in lines), "the screen to close")
        tmux.type(who, "echo \"exit=$?\"; echo \"raw=$(stty -a | tr -s ' ;' '\\n' | grep -cxE -- '-icanon|-echo')\"")
        screen = tmux.wait_for(who, r"^raw=\d+\s*$", "the shell's answer")
        need(re.search(r"^exit=0\s*$", screen, re.MULTILINE), f"{who}'s chat did not exit 0:\n{screen}")
        need(re.search(r"^raw=0\s*$", screen, re.MULTILINE), f"{who}'s terminal was left raw:\n{screen}")

    step("TUI: a chat whose terminal goes away (the tmux session killed: a hangup) exits")
    tmux.open("hangup", 80, 20, HUSH_PASSPHRASE=PASSPHRASES["alice"])
    tmux.type("hangup", f"exec {hush.binary} -p {hush.profile('alice')} chat bob")
    tmux.wait_for("hangup", r"message to bob", "the chat screen")
    pid = int(tmux.cmd("display-message", "-p", "-t", "hangup", "#{pane_pid}").strip())
    strays.append(pid)  # killed at the end if it does not exit
    tmux.cmd("kill-session", "-t", "hangup")
    deadline = time.monotonic() + 10
    while process_alive(pid):
        need(time.monotonic() < deadline, f"the chat (pid {pid}) still runs 10 s after its terminal went away")
        time.sleep(Tmux.POLL)
    tmux.kill()
    return relay


def process_alive(pid):
    """Whether process `pid` still runs (a zombie does not: it has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bin_dir", nargs="?", default=os.environ.get("HUSH_BIN_DIR", "target/release"),
                        help="directory with hush-relay and hush (default: $HUSH_BIN_DIR or target/release)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo every line the programs print")
    args = parser.parse_args()
    global verbose
    verbose = args.verbose

    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C so the children are killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    home = tempfile.mkdtemp(prefix="hush-quickstart-")
    ok = False
    try:
        quickstart(os.path.abspath(args.bin_dir), home)
        ok = True
    except Failure as failure:
        print(f"\nQUICKSTART CHECK FAILED: {failure}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
    finally:
        kill_children()
        if args.keep or not ok:
            print(f"(files kept in {home})", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    if not ok:
        return 1
    step("quickstart check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
