"""The queue: JSON messages to an SQS queue."""

from __future__ import annotations

import json
from typing import Any

from .. import aws


def send(queue_url: str, body: dict[str, Any]) -> None:
    """Send `body` as one JSON message."""
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
