"""Print Ozé's performance figures: cold import against the floor, DynamoDB requests per route.

make bench                      # or: .venv/bin/python -m bench.run [--samples 15] [--only cold|requests]
"""

import argparse
import logging
import time
import warnings

from bench import cold_start, requests


def cold(samples: int) -> None:
    started = time.monotonic()
    result = cold_start.measure(samples)
    print(cold_start.report(result))
    print()
    print(cold_start.report_costs(cold_start.import_costs()))
    print(f"  ({time.monotonic() - started:.0f} s)")


def dynamodb_requests() -> None:
    # moto warns about each template resource it cannot emulate (Cognito, alarms…).
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="moto")
    rows = []
    with requests.emulated_stack() as client:
        for scenario in requests.SCENARIOS.values():
            rows += requests.run_scenario(client, scenario)
    print(requests.report(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15, help="cold imports of each app, alternating")
    parser.add_argument("--only", choices=("cold", "requests"))
    args = parser.parse_args()
    if args.only != "requests":
        cold(args.samples)
        print()
    if args.only != "cold":
        dynamodb_requests()


if __name__ == "__main__":
    main()
