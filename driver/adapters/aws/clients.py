"""boto3 clients with botocore's standard retry mode (throttling and transient errors retried)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from ...core.errors import PortError

THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})


def retry_config(max_attempts: int = 5) -> Config:
    return Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=30,
    )


def client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
    max_attempts: int = 5,
) -> Any:
    """A client; `endpoint_url` None lets boto3 read AWS_ENDPOINT_URL (used to target moto)."""
    sess = session or boto3.Session()
    return sess.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=retry_config(max_attempts),
    )


# Every failure a boto3 call can raise: API errors, transport errors, and unparsable answers
# (an HTML 500 from a proxy, or from an emulator that lacks the API).
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)


def port_error(action: str, exc: Exception) -> PortError:
    """Map a botocore failure to a PortError with a clear message (throttling told apart)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        msg = exc.response.get("Error", {}).get("Message", "")
        if code in THROTTLING_CODES:
            return PortError(f"{action}: AWS throttled the request after retries ({code})")
        return PortError(f"{action}: {code}: {msg}".rstrip(": "))
    if isinstance(exc, BotoCoreError | ResponseParserError):
        return PortError(f"{action}: {str(exc).splitlines()[0]}")
    return PortError(f"{action}: {exc}")
