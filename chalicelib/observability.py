"""What the département's IT sees of the service: JSON logs and CloudWatch metrics, with
Powertools for AWS Lambda (Python).

Wired once: `middleware` wraps every invocation, HTTP or not (chalicelib/http.py registers
it with Chalice). For each invocation it
- gives every log line, whoever writes it (chalicelib's loggers, Chalice's own traceback of
  an unexpected error), a `correlation_id`: the API Gateway request id of an HTTP call
  (what API Gateway answers as `x-amzn-RequestId`), the Lambda request id otherwise;
- writes one line per HTTP call: method, route, status, duration;
- publishes the metrics counted meanwhile in CloudWatch's embedded metric format (EMF, a
  JSON line on stdout), with `ColdStart` on a container's first invocation.

Domain code counts business events with `count` (names below); outside an invocation (a
script, a test calling chalicelib directly) it records nothing.

No secrets in logs: lines are scrubbed of e-mail addresses, bearer tokens and presigned
URL signatures whatever wrote them, and nothing here logs headers or bodies.

Powertools is imported by the first invocation, not with app.py: making the logger and
metrics costs about 10 ms after the app's own imports (50 ms alone), paid by the first
call of a container rather than by every cold import of the app.
"""

import contextvars
import functools
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, TypeVar, cast

SERVICE = "oze"  # also the name of the Chalice app's logger, parent of chalicelib's
NAMESPACE = "Oze"

# Business metrics (EMF, namespace Oze, dimensions service and stage).
PLEDGES = "Pledges"  # pledges paid (counted once, whatever notifications repeat)
PLEDGED_CENTS = "PledgedCents"  # their amounts
PLEDGES_CANCELLED = "PledgesCancelled"  # by their contributors, paid or not
PLEDGES_REFUNDED = "PledgesRefunded"
PAYMENT_FAILURES = "PaymentFailures"  # card payments refused or abandoned on the provider's page
REFUNDS_DELAYED = "RefundsDelayed"  # settlement refunds the provider could not make now (retried)
ESCROW_DIFFERENCES = "EscrowDifferences"  # escrows whose provider balance is not the ledger's (alarm)
CAMPAIGNS_SUCCEEDED = "CampaignsSucceeded"  # closures at the deadline, by outcome
CAMPAIGNS_FAILED = "CampaignsFailed"

_SCRUBS = (
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[token]"),  # JWTs
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[token]"),
    (re.compile(r"(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[e-mail]"),
)

_invocation = threading.local()  # `active` while an invocation runs on this thread
_cold = [True]


def scrub(text: str) -> str:
    """The text without e-mail addresses, tokens or signatures."""
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    return text


class _Stdout:
    """sys.stdout as it is at each write, not as it was when the handler was made (pytest
    swaps it per test; Lambda never does)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@functools.cache
def tools() -> tuple[Any, Any]:
    """The Powertools logger and metrics, made on first use."""
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    class ScrubbingFormatter(LambdaPowertoolsFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return scrub(super().format(record))

    # Chalice gave its logger a plain-text handler: JSON lines replace it.
    app_logger = logging.getLogger(SERVICE)
    for handler in list(app_logger.handlers):
        app_logger.removeHandler(handler)
    logger = Logger(
        service=SERVICE,
        stream=cast(IO[str], _Stdout()),  # all a logging handler uses of a stream: write, flush
        logger_formatter=ScrubbingFormatter(utc=True, use_rfc3339=True),
    )
    metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    metrics.set_default_dimensions(stage=os.environ.get("STAGE", "local"))
    return logger, metrics


_metrics_lock = threading.Lock()  # Powertools' metric set is not safe across threads


def count(name: str, value: int = 1) -> None:
    """Count a business event in the current invocation's metrics."""
    if getattr(_invocation, "active", False):
        with _metrics_lock:
            tools()[1].add_metric(name=name, unit="Count", value=value)


Work = TypeVar("Work")
Result = TypeVar("Result")


def carried(work: Callable[[Work], Result]) -> Callable[[Work], Result]:
    """`work` as other threads run it for the calling invocation (a pool of refunds): the
    metrics it counts are published with the invocation's, and its log lines carry the
    invocation's keys (context variables, which each thread starts without)."""
    active = getattr(_invocation, "active", False)
    context = contextvars.copy_context()

    def run(item: Work) -> Result:
        _invocation.active = active
        try:
            return context.copy().run(work, item)
        finally:
            _invocation.active = False

    return run


def _lambda_context(event: Any) -> Any:
    # A Chalice Request carries it as `lambda_context`, other events as `context`.
    return getattr(event, "lambda_context", None) or getattr(event, "context", None)


def _correlation_id(event: Any, context: Any) -> str | None:
    request_context = getattr(event, "context", None) if hasattr(event, "method") else None
    if isinstance(request_context, dict) and request_context.get("requestId"):
        return str(request_context["requestId"])
    request_id = getattr(context, "aws_request_id", None)
    return str(request_id) if request_id is not None else None


def middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """A Chalice middleware for every event type."""
    logger, metrics = tools()
    context = _lambda_context(event)
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(correlation_id=_correlation_id(event, context), cold_start=_cold[0])
    if _cold[0] and context is not None:
        metrics.provider.add_cold_start_metric(context=context)  # its own EMF line, at once
    _cold[0] = False
    _invocation.active = True
    started = time.perf_counter()
    try:
        response = get_response(event)
    except Exception:
        logger.exception("invocation failed", extra={"event_type": type(event).__name__})
        raise
    finally:
        _invocation.active = False
        _publish(metrics)
    if hasattr(event, "method"):
        _log_call(logger, event, response, time.perf_counter() - started)
    return response


def _log_call(logger: Any, request: Any, response: Any, seconds: float) -> None:
    """One line per HTTP call: no headers, no query string, no body (they may hold tokens)."""
    logger.info(
        "HTTP call",
        extra={
            "method": request.method,
            "route": request.context.get("resourcePath"),
            "path": request.context.get("path"),
            "status": getattr(response, "status_code", None),
            "duration_ms": round(seconds * 1000, 1),
        },
    )


def _publish(metrics: Any) -> None:
    if metrics.metric_set:
        metrics.flush_metrics()
        metrics.clear_metrics()  # flush keeps them when POWERTOOLS_METRICS_DISABLED is set
