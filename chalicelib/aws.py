"""AWS clients, built on first use and reused across invocations.

The endpoint comes from boto3's own AWS_ENDPOINT_URL variable (set by the local stage),
so no code here knows about the emulator. Tests that switch endpoints call
`client.cache_clear()`.
"""

import threading
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # the stubs of requirements-dev.txt: mypy types each service's client
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient

# The services the functions use (and their IAM policies allow: infra/).
Service = Literal["dynamodb", "s3", "ses", "sqs"]
# Bounded retries with backoff for throttling and transient errors; our own code retries
# only what botocore cannot (transaction conflicts).
CLIENT_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=3, read_timeout=10, max_pool_connections=32
)


class Clients:
    """`client("dynamodb")`: one client per service, made on first use. boto3's default
    session is not safe for creating clients from several threads at once (`chalice local`
    serves on threads); the clients themselves are."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}
        self._creating = threading.Lock()

    @overload
    def __call__(self, service: Literal["dynamodb"]) -> "DynamoDBClient": ...
    @overload
    def __call__(self, service: Literal["s3"]) -> "S3Client": ...
    @overload
    def __call__(self, service: Literal["ses"]) -> "SESClient": ...
    @overload
    def __call__(self, service: Literal["sqs"]) -> "SQSClient": ...

    def __call__(self, service: Service) -> Any:
        made = self._made.get(service)
        if made is None:
            with self._creating:
                made = self._made.get(service)
                if made is None:
                    made = self._made[service] = boto3.client(service, config=CLIENT_CONFIG)
        return made

    def cache_clear(self) -> None:
        """Forget the clients: the next ones read the endpoint and credentials anew."""
        with self._creating:
            self._made.clear()


client = Clients()
