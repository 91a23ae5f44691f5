"""`make run`: the emulated AWS, the stage's resources from infra/, demo data, and the API
served by `chalice local` on http://127.0.0.1:8000. Ctrl-C stops all it started."""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from devtools.stage import ROOT, stage_variables
from devtools.token import local_token


def _wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {seconds} s")


def _local_env(emulator_url: str) -> dict[str, str]:
    return {**os.environ, **stage_variables("local"), "AWS_ENDPOINT_URL": emulator_url}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator-port", type=int, default=5000)
    args = parser.parse_args()
    emulator_url = f"http://127.0.0.1:{args.emulator_port}"
    env = _local_env(emulator_url)
    python = sys.executable
    children: list[subprocess.Popen[bytes]] = []
    # SIGTERM (a supervisor, `kill`, an IDE's stop button) stops the children as Ctrl-C does:
    # by default it would end this process alone, the emulator and the API holding their ports.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        children.append(
            subprocess.Popen([python, "-m", "devtools.emulator", "--port", str(args.emulator_port)], cwd=ROOT, env=env)
        )
        _wait_until_up(emulator_url)
        subprocess.run([python, "-m", "devtools.provision", "--stage", "local"], cwd=ROOT, env=env, check=True)
        subprocess.run([python, "-m", "devtools.seed"], cwd=ROOT, env=env, check=True)
        chalice = [python, "-m", "devtools.chalice_local", "--stage", "local", "--no-autoreload", "--host", "127.0.0.1"]
        server = subprocess.Popen([*chalice, "--port", str(args.port)], cwd=ROOT, env=env)
        children.append(server)
        # The scheduled function of hosted stages, every minute here.
        children.append(subprocess.Popen([python, "-m", "devtools.finalise", "--every", "60"], cwd=ROOT, env=env))
        # The table's stream trigger (the platform figures of /stats), every 2 seconds here.
        children.append(subprocess.Popen([python, "-m", "devtools.stream", "--every", "2"], cwd=ROOT, env=env))
        api = f"http://127.0.0.1:{args.port}"
        _wait_until_up(f"{api}/stats")
        moderator = local_token("moderatrice-manche", "Claire Moderatrice", "claire@manche.fr", "moderators")
        print(
            f"""
Ozé is running (Ctrl-C stops it):
  API            {api}
  emulated AWS   {emulator_url}  (DynamoDB table oze-local, S3 bucket {env["MEDIA_BUCKET"]})

Try:
  curl -s '{api}/campaigns?sort=most_funded'
  curl -s {api}/stats
  curl -s -H 'Authorization: Bearer {moderator}' {api}/moderation/queue

Other tokens: make token SUB=alice NAME='Alice Martin' [GROUPS=moderators]
Deadlines: closed every minute here; `make finalise NOW=2026-12-31T23:00:00Z` simulates a date.
""",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
