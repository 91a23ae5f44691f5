"""`make run` (devtools/local_stack.py) as a developer or a supervisor stops it: SIGTERM
stops the emulator and the API it started, as Ctrl-C does, and frees their ports."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT
from tests.system.conftest import _free_port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _within(seconds: float, condition) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def test_sigterm_stops_everything_make_run_started():
    api_port, emulator_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_NAME", "STAGE"))}
    stack = subprocess.Popen(
        [sys.executable, "-m", "devtools.local_stack", "--port", str(api_port), "--emulator-port", str(emulator_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _within(240, lambda: _answers(f"http://127.0.0.1:{api_port}/stats")), "make run did not come up"

        stack.send_signal(signal.SIGTERM)

        assert stack.wait(timeout=30) == 0
        assert _within(15, lambda: not _taken(api_port) and not _taken(emulator_port))
    finally:
        if stack.poll() is None:
            stack.kill()
