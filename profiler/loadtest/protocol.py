"""DynamoDB's JSON protocol without a transport: signing, error classification and the retry policy, shared by
the asyncio client (:mod:`.transport`) and the Locust workers (gevent), so both count the same way.

Retries follow botocore's *standard* retry mode: up to ``max_attempts`` attempts in total on throttling errors,
transient errors, HTTP 5xx and connection failures, sleeping ``random() * min(20, 2 ** (attempt - 1))`` seconds
between them; the count is what ``ResponseMetadata.RetryAttempts`` would report. Unlike boto3, every throttled
*attempt* is reported (with DynamoDB's throttling reason), so throttling hidden by successful retries shows.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, _host_from_url
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


class SigV4Signer:
    """SigV4 for DynamoDB's JSON POSTs to one endpoint: the headers botocore's ``SigV4Auth.add_auth`` gives an
    ``AWSRequest`` with our two headers, byte for byte (tests/loadtest/test_signing.py compares them).

    botocore builds the canonical request anew for every request and derives the signing key with four HMACs:
    46 µs per request (timeit of ``add_auth`` on a 100-byte GetItem body), a quarter of the engine's 185 µs of
    CPU per request then. What does not change between requests is built once: the canonical URL, host and
    header lines, the signing key (per secret key and UTC day) and the timestamp (per second), leaving one
    SHA-256 of the body, one of the canonical request and one HMAC: 3.5 µs (same timeit)."""

    def __init__(self, region: str, url: str, service: str = "dynamodb"):
        self.region = region
        self.service = service
        # What botocore derives from the URL for every request, derived once with its own helpers.
        probe = SigV4Auth(None, service, region)
        template = AWSRequest(method="POST", url=url)
        self._prefix = "POST\n%s\n%s\ncontent-type:%s\nhost:%s\nx-amz-date:" % (
            probe._normalize_url_path(urlsplit(url).path), probe.canonical_query_string(template),
            CONTENT_TYPE, _host_from_url(url))
        # botocore signs a body over plain HTTP always, over HTTPS unless an operation opts out (none of DynamoDB's).
        self._keys: tuple[str, str, bytes] = ("", "", b"")
        self._token: tuple[str | None, str] = (None, "")
        self._clock: tuple[int, str] = (-1, "")

    def timestamp(self) -> str:
        """Now, as botocore writes it (``%Y%m%dT%H%M%SZ``, UTC)."""
        second = int(time.time())
        if second != self._clock[0]:
            self._clock = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
        return self._clock[1]

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._keys
        if secret_key != cached_secret or day != cached_day:
            key = ("AWS4" + secret_key).encode()
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = (secret_key, day, key)
        return key

    def headers(self, credentials, api: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """The request's headers, signed; ``credentials`` has ``access_key``, ``secret_key`` and ``token``."""
        amz_date = timestamp or self.timestamp()
        target = TARGET_PREFIX + api
        token = credentials.token
        if token:
            if token != self._token[0]:  # botocore trims and collapses white space in signed header values
                self._token = (token, " ".join(token.split()))
            middle = "\nx-amz-security-token:" + self._token[1] + "\nx-amz-target:"
            signed = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        else:
            middle = "\nx-amz-target:"
            signed = "content-type;host;x-amz-date;x-amz-target"
        canonical = "".join((self._prefix, amz_date, middle, target, "\n\n", signed, "\n",
                             hashlib.sha256(body).hexdigest()))
        day = amz_date[:8]
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (
            amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
        signature = hmac.new(self._signing_key(credentials.secret_key, day), string_to_sign.encode(),
                             hashlib.sha256).hexdigest()
        headers = {"Content-Type": CONTENT_TYPE, "X-Amz-Target": target, "X-Amz-Date": amz_date}
        if token:
            headers["X-Amz-Security-Token"] = token
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                                    f"SignedHeaders={signed}, Signature={signature}")
        return headers


_signers: dict[tuple[str, str], SigV4Signer] = {}


def signed_headers(credentials, region: str, url: str, api: str, body: bytes) -> dict[str, str]:
    """The headers of one signed request (see :class:`SigV4Signer`, kept per region and endpoint)."""
    signer = _signers.get((region, url))
    if signer is None:
        signer = _signers[(region, url)] = SigV4Signer(region, url)
    return signer.headers(credentials, api, body)


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
