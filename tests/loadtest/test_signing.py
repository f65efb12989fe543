"""The engine's SigV4 signer gives botocore's headers, byte for byte, for the same request and clock."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from profiler.loadtest import protocol
from profiler.loadtest.protocol import CONTENT_TYPE, TARGET_PREFIX, SigV4Signer, signed_headers

BODY = b'{"TableName":"bench","Key":{"pk":{"S":"k0001"},"sk":{"S":"s0"}},"ReturnConsumedCapacity":"TOTAL"}'
WITHOUT_TOKEN = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)
WITH_TOKEN = ReadOnlyCredentials("ASIAEXAMPLE", "secret/with+chars", "  session  token/+= ")


def botocore_headers(credentials, region: str, url: str, api: str, body: bytes, when: datetime.datetime) -> dict:
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + api})
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(credentials, "dynamodb", region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("credentials", [WITHOUT_TOKEN, WITH_TOKEN])
@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "https://dynamodb.eu-west-1.amazonaws.com/",
                                 "http://LocalHost:80/base/../dynamo/?b=2&a=1"])
@pytest.mark.parametrize("body", [BODY, b""])
def test_the_signer_gives_botocores_headers_for_the_same_request_and_clock(credentials, url, body):
    when = datetime.datetime(2026, 12, 7, 23, 59, 59)
    expected = botocore_headers(credentials, "eu-west-1", url, "PutItem", body, when)
    signed = SigV4Signer("eu-west-1", url).headers(credentials, "PutItem", body, timestamp="20261207T235959Z")
    assert signed == expected and list(signed) == list(expected)  # same headers, same order


def test_signed_headers_read_the_clock_and_renew_the_cached_key_with_the_day_and_the_secret(monkeypatch):
    url = "http://127.0.0.1:8000/"
    moments = [1_796_687_999.9, 1_796_688_000.2, 1_796_688_001.0]  # 2026-12-07 23:59:59.9 UTC, then the next day
    for credentials in (WITHOUT_TOKEN, WITH_TOKEN, WITHOUT_TOKEN._replace(secret_key="another")):
        for moment in moments:
            monkeypatch.setattr(protocol.time, "time", lambda moment=moment: moment)
            when = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).replace(tzinfo=None)
            expected = botocore_headers(credentials, "us-east-1", url, "GetItem", BODY, when)
            assert signed_headers(credentials, "us-east-1", url, "GetItem", BODY) == expected
