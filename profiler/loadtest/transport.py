"""A lean asyncio DynamoDB client: the JSON protocol over aiohttp, signed with botocore's SigV4.

Why not boto3: on this machine boto3 costs ~1.4 ms of CPU per request (event hooks, request preparation,
urllib3), so one core drives ~700 requests/s and threads do not help (the GIL). aiobotocore would be the
asyncio boto3 but pins an older botocore than ours. This client sends the same wire-format parameters boto3's
low-level client takes, and retries as :mod:`.protocol` describes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

from .protocol import DEFAULT_MAX_ATTEMPTS, Attempts, Reply, connection_error_code, endpoint_for, error_code, \
    signed_headers


class DynamoHttpClient:
    """One per event loop. ``credentials`` returns botocore frozen credentials (called per request, so refreshed
    playground credentials are picked up)."""

    def __init__(self, *, region: str, endpoint_url: str | None, credentials: Callable[[], Any],
                 max_connections: int = 64, max_attempts: int = DEFAULT_MAX_ATTEMPTS, timeout: float = 10.0):
        self.url = endpoint_for(region, endpoint_url)
        self.region = region
        self._credentials = credentials
        self._max_attempts = max_attempts
        # imported with the first client, not with the engine: the load-test dashboard opens without it
        import aiohttp

        self._failures = (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=timeout),
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        await self._session.close()

    async def _attempt(self, api: str, body: bytes) -> tuple[int, dict[str, Any]]:
        headers = signed_headers(self._credentials(), self.region, self.url, api, body)
        async with self._session.post(self.url, data=body, headers=headers) as response:
            payload = await response.read()
            status = response.status
        return status, (json.loads(payload) if payload else {})

    async def call(self, api: str, params: dict[str, Any]) -> Reply:
        body = json.dumps(params, separators=(",", ":")).encode()
        attempts = Attempts(self._max_attempts)
        while True:
            try:
                status, reply = await self._attempt(api, body)
                code = error_code(status, reply)
            except asyncio.CancelledError:
                raise
            except self._failures as exc:
                status, reply, code = 0, {}, connection_error_code(exc)
            final = attempts.after(status, reply, code)
            if final is not None:
                return final
            await asyncio.sleep(attempts.backoff())
