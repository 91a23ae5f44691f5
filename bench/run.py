"""Print Ozé's performance figures: cold import against the floor, DynamoDB requests per route
(a pledge and its payment's confirmation among them), pledges per second (each made and
paid), deadline closure and settlement at scale, provider calls per settlement, refunding
a failed campaign of 10,000 paid pledges.

make bench      # or: .venv/bin/python -m bench.run [--only cold|requests|pledges|closure|provider|refunds] [--quick]

The closure at its full size (1,000 due campaigns of 50 paid pledges, then 10,000
campaigns) takes more than an hour on a 2-core machine, the refunds of 10,000 pledges
(three runs: the emulator alone, concurrency 8 and 32) about 20 minutes; --quick runs the
closure at a tenth of that, the refunds over 1,000 pledges, and measures pledges per
second over 100 pledges instead of 500.
"""

import argparse
import logging
import time
import warnings

from bench import closure, cold_start, escrow, pledging, requests


def cold(samples: int) -> None:
    started = time.monotonic()
    result = cold_start.measure(samples)
    print(cold_start.report(result))
    print()
    print(cold_start.report_costs(cold_start.import_costs()))
    print(cold_start.report_areas(cold_start.model_areas()))
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


def pledges_per_second(quick: bool) -> None:
    print(pledging.report(pledging.measure(100 if quick else 500, threads=8)))


def closure_at_scale(quick: bool) -> None:
    due, per_campaign, total = (100, 20, 1000) if quick else (1000, 50, 10000)
    print(closure.full_report(closure.run(due, per_campaign, total)))


def provider_calls() -> None:
    print(escrow.settlement_report(escrow.settlement_calls()))


def refunds(quick: bool) -> None:
    runs = escrow.refund_runs(1_000 if quick else 10_000, [8, 32], refund_ms=400)
    print(escrow.refunds_report(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15, help="cold imports of each app, alternating")
    parser.add_argument("--only", choices=("cold", "requests", "pledges", "closure", "provider", "refunds"))
    parser.add_argument("--quick", action="store_true", help="smaller pledge, closure and refund measures")
    args = parser.parse_args()
    measures = {
        "cold": lambda: cold(args.samples),
        "requests": dynamodb_requests,
        "pledges": lambda: pledges_per_second(args.quick),
        "closure": lambda: closure_at_scale(args.quick),
        "provider": provider_calls,
        "refunds": lambda: refunds(args.quick),
    }
    for name, measure in measures.items():
        if args.only in (None, name):
            measure()
            print(flush=True)


if __name__ == "__main__":
    main()
