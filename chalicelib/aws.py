"""AWS clients, built on first use and reused across invocations.

The endpoint comes from boto3's own AWS_ENDPOINT_URL variable (set by the local stage),
so no code here knows about the emulator. Tests that switch endpoints call
`client.cache_clear()`.
"""

import threading
from functools import cache

import boto3
from botocore.config import Config

# Bounded retries with backoff for throttling and transient errors; our own code retries
# only what botocore cannot (transaction conflicts).
CLIENT_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=3, read_timeout=10, max_pool_connections=32
)
# boto3's default session is not safe for creating clients from several threads at once
# (`chalice local` serves on threads); the clients themselves are.
_creating = threading.Lock()


@cache
def client(service: str):
    with _creating:
        return boto3.client(service, config=CLIENT_CONFIG)
