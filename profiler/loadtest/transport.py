"""A lean asyncio DynamoDB client: the JSON protocol over aiohttp, signed with botocore's SigV4.

Why not boto3: on this machine boto3 costs ~1.4 ms of CPU per request (event hooks, request preparation,
urllib3), so one core drives ~700 requests/s and threads do not help (the GIL). aiobotocore would be the
asyncio boto3 but pins an older botocore than ours. This client sends the same wire-format parameters boto3's
low-level client takes, so the engine and a boto3 script build identical requests.

Retries follow botocore's *standard* retry mode: up to ``max_attempts`` attempts in total on throttling errors,
transient errors, HTTP 5xx and connection failures, sleeping ``random() * min(20, 2 ** attempt)`` seconds
between them; the count is what ``ResponseMetadata.RetryAttempts`` would report. Unlike boto3, every throttled
*attempt* is reported (with DynamoDB's throttling reason), so throttling hidden by successful retries shows.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from .workload import THROTTLE_CODES, throttle_reasons

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
                             "InternalServerError", "ServiceUnavailable"})
MAX_BACKOFF = 20.0


def endpoint_for(region: str, endpoint_url: str | None) -> str:
    return (endpoint_url or f"https://dynamodb.{region}.amazonaws.com").rstrip("/") + "/"


@dataclass
class Reply:
    """The final outcome of one logical request, after retries."""

    body: dict[str, Any]
    error: str | None = None
    retries: int = 0
    throttles: list[str] = field(default_factory=list)


class DynamoHttpClient:
    """One per event loop. ``credentials`` is a callable returning botocore frozen credentials (called once per
    request: cheap, and it picks up refreshed playground credentials)."""

    def __init__(self, *, region: str, endpoint_url: str | None, credentials: Callable[[], Any],
                 max_connections: int = 64, max_attempts: int = 3, timeout: float = 10.0,
                 sleep: Callable[[float], Any] = asyncio.sleep):
        self.url = endpoint_for(region, endpoint_url)
        self.region = region
        self._credentials = credentials
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=timeout),
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        await self._session.close()

    def _signed_headers(self, api: str, body: bytes) -> dict[str, str]:
        request = AWSRequest(method="POST", url=self.url, data=body,
                             headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + api})
        SigV4Auth(self._credentials(), "dynamodb", self.region).add_auth(request)
        return dict(request.headers.items())

    async def _attempt(self, api: str, body: bytes) -> tuple[int, dict[str, Any]]:
        async with self._session.post(self.url, data=body, headers=self._signed_headers(api, body)) as response:
            payload = await response.read()
            status = response.status
        return status, (json.loads(payload) if payload else {})

    async def call(self, api: str, params: dict[str, Any]) -> Reply:
        body = json.dumps(params, separators=(",", ":")).encode()
        throttles: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            try:
                status, reply = await self._attempt(api, body)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                status, reply, code = 0, {}, _connection_error_code(exc)
            else:
                code = None
                if status >= 400:
                    code = (reply.get("__type") or f"HTTP{status}").rpartition("#")[2]
                    if code in THROTTLE_CODES:
                        throttles.extend(throttle_reasons(code, reply))
                if code is None:
                    return Reply(reply, None, attempt - 1, throttles)
            retryable = code in THROTTLE_CODES or code in TRANSIENT_CODES or status >= 500 or status == 0
            if not retryable or attempt >= self._max_attempts:
                return Reply(reply, code, attempt - 1, throttles)
            await self._sleep(random.random() * min(MAX_BACKOFF, 2 ** (attempt - 1)))


def _connection_error_code(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "Timeout"
    if isinstance(exc, ValueError):
        return "BadResponse"
    return type(exc).__name__
