"""The launcher's supervision, on real short-lived processes: restart with a growing pause, or stop."""

from __future__ import annotations

import json
import os
import time

from gateway.launcher.processes import restart_delay
from gateway.launcher.stack import Stack

EXIT_AT_ONCE = ["-c", "import sys; sys.exit(3)"]
STAY_UP = ["-c", "import time; time.sleep(600)"]


def test_a_child_that_keeps_dying_is_restarted_ever_more_slowly_up_to_the_cap():
    delays = [restart_delay(n, base=1.0, cap=30.0) for n in range(1, 9)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_worker_that_exits_is_restarted_and_the_stack_stays_alive(capsys):
    stack = Stack(restart_backoff=0.05, restart_backoff_cap=0.2)
    env = dict(os.environ)
    try:
        stack._spawn("web", STAY_UP, env)
        stack._spawn("worker-1", EXIT_AT_ONCE, env, restart=True)
        deadline = time.monotonic() + 120
        while stack._children[1].restarts < 4 and time.monotonic() < deadline:
            stack.supervise_once()
            time.sleep(0.01)
        assert stack._children[1].restarts == 4
        assert stack.alive() and stack.exited() == []
    finally:
        stack.stop(grace=5)
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    pauses = [e["restart_in_seconds"] for e in events if e["level"] == "warning"]
    assert pauses[:4] == [0.05, 0.1, 0.2, 0.2]  # each quick exit doubles the pause, up to the cap
    assert {e["child"] for e in events} == {"worker-1"}
    assert all(e["returncode"] == 3 for e in events if e["level"] == "warning")


def test_the_stack_stops_being_alive_when_its_web_server_exits():
    stack = Stack()
    try:
        web = stack._spawn("web", EXIT_AT_ONCE, dict(os.environ))
        stack._spawn("worker-1", STAY_UP, dict(os.environ), restart=True)
        web.wait(60)
        stack.supervise_once()
        assert not stack.alive()
        assert stack.exited() == ["web"]
        assert stack.process("web") is web  # not restarted
    finally:
        stack.stop(grace=5)
