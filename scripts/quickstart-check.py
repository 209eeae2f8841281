#!/usr/bin/env python3
"""Runs the README's quickstart against real binaries, expect-style, and fails loudly.

    python3 scripts/quickstart-check.py [BIN_DIR]

BIN_DIR holds `hush-relay` and `hush` (default: $HUSH_BIN_DIR, else target/release); this script
builds nothing. It starts a relay on 127.0.0.1 (a free port, metrics off, a temporary data
directory), creates two profiles (alice, bob), exchanges addresses, compares safety numbers,
chats through two long-running `hush chat` processes (message, sent and read marks,
reply), checks `hush inbox`, and then the two failure paths a user meets first: a wrong
passphrase, and `send` while the relay is down. Every wait has a deadline; nothing sleeps to
synchronise. Exit status 0 means every step passed. Standard library only.
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

PASSPHRASES = {"alice": "alice's correct horse", "bob": "bob's battery staple"}

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


def kill_children():
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

    step("start the relay on 127.0.0.1, a free port, metrics off")
    relay = Child(
        "hush-relay",
        [relay_bin, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(home, "relay-data"),
         "--metrics-listen", "off"],
        clean_env(),
    )
    relay_address = relay.expect(r"relay address for clients: (\S+:\d+#[0-9a-f]{64})\s*$").group(1)
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
    bob_chat.expect(rf"^\[\d\d:\d\d:\d\d\] alice: {re.escape(hello)}$", what="alice's message")
    # Bob's chat marks it read at once; the read receipt can overtake the delivered one (which
    # waits 200 ms to batch): statuses only move forward, so the chat then says both at once.
    alice_chat.expect(rf"^  · {message_id} (delivered, )?read$", what=f"the read mark of {message_id}")

    step("bob replies; alice's chat shows it and bob sees it read")
    reply = "hi Alice, safety number checked"
    bob_chat.send_line(reply)
    reply_id = bob_chat.expect(r"^  · ([0-9a-f]{8}) queued$", what="the queued mark").group(1)
    alice_chat.expect(rf"^\[\d\d:\d\d:\d\d\] bob: {re.escape(reply)}$", what="bob's reply")
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

    step("a wrong passphrase fails")
    code, out = hush.run("bob", "inbox", passphrase="not bob's passphrase", check=False)
    need(code != 0, f"a wrong passphrase exited 0:\n{out}")
    need("wrong passphrase" in out, f"a wrong passphrase did not say so:\n{out}")

    step("stop the relay (SIGTERM) and check it exits cleanly")
    relay.proc.send_signal(signal.SIGTERM)
    code = relay.wait()
    need(code == 0, f"the relay exited with {code} on SIGTERM.\n{relay.tail()}")

    step("alice: hush send with the relay down keeps the message queued")
    offline = "written while the relay is down"
    code, out = hush.run("alice", "send", "bob", offline, check=False)
    need(code == 3, f"`hush send` with the relay down exited {code}, not 3 (queued, not sent):\n{out}")
    need("relay not reachable" in out and "queued, not sent" in out,
         f"`hush send` with the relay down did not say the message is queued, not sent:\n{out}")

    step("restart the relay on the same port and data directory: same address")
    port = relay_address.split("#")[0].rsplit(":", 1)[1]
    relay = Child(
        "hush-relay (restarted)",
        [relay_bin, "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(home, "relay-data"),
         "--metrics-listen", "off"],
        clean_env(),
    )
    again = relay.expect(r"relay address for clients: (\S+:\d+#[0-9a-f]{64})\s*$").group(1)
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
