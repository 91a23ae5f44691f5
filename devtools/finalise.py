"""`make finalise [NOW=2026-12-31T23:00:00Z]`: deadline closure and settlement against the
running local stack, at the real or a simulated time. `--every 60` repeats it, as the
scheduled function does in AWS (`make run` starts it so)."""

import argparse
import contextlib
import json
import time

from devtools.stage import use_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--now", default="", help="simulated UTC time, ISO 8601 (default: now)")
    parser.add_argument("--every", type=int, default=0, help="repeat every N seconds")
    args = parser.parse_args()
    use_stage("local")
    from chalicelib import clock, finalisation

    while True:
        now = clock.parse(args.now) if args.now else clock.now()
        report = finalisation.run(now)
        print(json.dumps({"now": clock.iso(now), **report}, ensure_ascii=False), flush=True)
        if not args.every:
            return
        time.sleep(args.every)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C of `make run` reaches this loop too
        main()
