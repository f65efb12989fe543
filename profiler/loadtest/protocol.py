"""DynamoDB's JSON protocol without a transport: signing, error classification and the retry policy, shared by
the asyncio client (:mod:`.transport`) and the Locust workers (gevent), so both count the same way.

Retries follow botocore's *standard* retry mode: up to ``max_attempts`` attempts in total on throttling errors,
transient errors, HTTP 5xx and connection failures, sleeping ``random() * min(20, 2 ** (attempt - 1))`` seconds
between them; the count is what ``ResponseMetadata.RetryAttempts`` would report. Unlike boto3, every throttled
*attempt* is reported (with DynamoDB's throttling reason), so throttling hidden by successful retries shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from .workload import THROTTLE_CODES, throttle_reasons

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
                             "InternalServerError", "ServiceUnavailable"})
MAX_BACKOFF = 20.0
DEFAULT_MAX_ATTEMPTS = 3


def endpoint_for(region: str, endpoint_url: str | None) -> str:
    return (endpoint_url or f"https://dynamodb.{region}.amazonaws.com").rstrip("/") + "/"


def signed_headers(credentials, region: str, url: str, api: str, body: bytes) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + api})
    SigV4Auth(credentials, "dynamodb", region).add_auth(request)
    return dict(request.headers.items())


@dataclass
class Reply:
    """The final outcome of one logical request, after retries."""

    body: dict[str, Any]
    error: str | None = None
    retries: int = 0
    throttles: list[str] = field(default_factory=list)


def error_code(status: int, body: dict[str, Any]) -> str | None:
    if status < 400:
        return None
    return (body.get("__type") or f"HTTP{status}").rpartition("#")[2]


def connection_error_code(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return "Timeout"
    if isinstance(exc, ValueError):
        return "BadResponse"
    return type(exc).__name__


class Attempts:
    """The retry loop's state for one logical request: ``after(...)`` says whether to try again."""

    def __init__(self, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.max_attempts = max_attempts
        self.attempt = 0
        self.throttles: list[str] = []

    def after(self, status: int, body: dict[str, Any], code: str | None) -> Reply | None:
        """The final reply, or None to retry after :meth:`backoff` seconds."""
        self.attempt += 1
        if code in THROTTLE_CODES:
            self.throttles.extend(throttle_reasons(code, body))
        if code is None:
            return Reply(body, None, self.attempt - 1, self.throttles)
        retryable = code in THROTTLE_CODES or code in TRANSIENT_CODES or status >= 500 or status == 0
        if not retryable or self.attempt >= self.max_attempts:
            return Reply(body, code, self.attempt - 1, self.throttles)
        return None

    def backoff(self) -> float:
        return random.random() * min(MAX_BACKOFF, 2 ** (self.attempt - 1))
