"""AWS Signature Version 4 for Bedrock requests, computed by botocore's own signer.

The URL's path must already be in wire form (model ids percent-encoded with `-._~` kept, so `:` is
`%3A`); botocore then builds the canonical URI by encoding it once more (`%253A`), exactly as AWS
recomputes it on its side. The body is signed as given, so the caller must send those very bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

__all__ = ["SIGNING_NAME", "encode_label", "sign"]

SIGNING_NAME = "bedrock"  # bedrock-runtime's signingName (botocore service-2.json)


def encode_label(value: str) -> str:
    """A URI path label as botocore's rest serializer encodes it (`percent_encode`, safe `-_.~`)."""
    return quote(value, safe="-_.~")


def sign(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    access_key: str,
    secret_key: str,
    region: str,
) -> dict[str, str]:
    """`headers` plus the `X-Amz-Date` and `Authorization` headers botocore's SigV4 signer adds."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(access_key, secret_key), SIGNING_NAME, region).add_auth(request)
    return dict(request.headers.items())
