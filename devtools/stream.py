"""The table's stream trigger of hosted stages (the `figures` function), played against the
emulator: `make run` starts `python -m devtools.stream --every 2`, and the API tests read
the stream the same way (tests/api/conftest.py)."""

import argparse
import contextlib
import time
from typing import Any

import boto3
from botocore.config import Config

from devtools.stage import use_stage

# Account-based endpoints (<account>.streams-ddb.<region>…), which moto does not answer: off.
CLIENT_CONFIG = Config(account_id_endpoint_mode="disabled")


class StreamReader:
    """The stream of `table` from its start (`"TRIM_HORIZON"`) or from now (`"LATEST"`):
    `catch_up()` hands what came since to the `figures` function's code, as Lambda's
    trigger does in AWS."""

    def __init__(self, table: str, start: str = "LATEST"):
        self.streams: Any = boto3.client("dynamodbstreams", config=CLIENT_CONFIG)
        self.arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self.first: dict[str, str] = {s["ShardId"]: self._iterator(s["ShardId"], start) for s in shards}
        self.last: dict[str, str] = {}  # shard id -> the last sequence number read

    def _iterator(self, shard: str, kind: str, after: str | None = None) -> str:
        position = {"SequenceNumber": after} if after else {}
        answer = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard, ShardIteratorType=kind, **position)
        return str(answer["ShardIterator"])

    def records(self) -> list[dict[str, Any]]:
        """What came since the last call. Each call asks for an iterator after the last
        record read, rather than keeping one: moto answers a refused transaction by
        restoring the table, stream included, which leaves older iterators behind."""
        found: list[dict[str, Any]] = []
        for shard, first in self.first.items():
            while True:
                after = self.last.get(shard)
                iterator = self._iterator(shard, "AFTER_SEQUENCE_NUMBER", after) if after else first
                batch = self.streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
                if not batch:
                    break
                found += batch
                self.last[shard] = batch[-1]["dynamodb"]["SequenceNumber"]
        return found

    def catch_up(self) -> int:
        """Count what came since the last call; answers how many records were read."""
        from chalicelib import figures

        read = self.records()
        if read:
            figures.count(read)
        return len(read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=2.0, help="seconds between reads")
    args = parser.parse_args()
    use_stage("local")
    from chalicelib.settings import get_settings

    reader = StreamReader(get_settings().table_name, start="TRIM_HORIZON")  # the demo data's pledges too
    while True:
        reader.catch_up()
        time.sleep(args.every)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
