"""The SSRF table: trick URLs in every built-in provider's URL field, against the host's allowed
hosts, at save (refused with an error naming the field, nothing stored) and at run (a connector
saved before the list was narrowed never reaches the refused host). Redirect hops: tests/security
/test_redirects*.py.

Kibana's rule (security-anchors A1.1): exact hostname match, port and scheme ignored, unparseable
URLs refused; here also no user info, no control characters, and the hostname httpx connects to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ai_connector.testing import FakeResponse, FakeServer
from connector_documents import builtin_registry, connector_document, run_params, task_of
from served_host import ALL_KEY, InProcessHosts, host_settings

ALLOWED = "api.example.com,127.0.0.1"
HEADERS = {"Authorization": f"ApiKey {ALL_KEY}", "kbn-xsrf": "true"}
NOT_LISTED = "is not added to the host setting AI_CONNECTOR_ALLOWED_HOSTS"
USERINFO = "must not contain a user name or password"
CONTROL = "must not contain spaces or control characters"
SCHEME = "must be an http(s) URL"
NO_HOST = "must be a valid http(s) URL with a host name"

ACCEPTED = [
    "http://api.example.com/v1",
    "https://api.example.com/v1",
    "HTTPS://API.Example.COM/v1",  # hostnames compare case-insensitively
    "http://api.example.com:8443/v1",  # Kibana ignores the port
    "http://127.0.0.1:9/v1",
]
REFUSED = [
    # user info: whichever side a parser reads as the host
    ("http://api.example.com@evil.example/", USERINFO),
    ("http://user:pw@api.example.com/", USERINFO),
    ("http://evil.example\\@api.example.com/", USERINFO),
    ("http://evil.example%40api.example.com/", NOT_LISTED),
    # other spellings of a listed address are other names
    ("http://127.1/", NOT_LISTED),
    ("http://0x7f.1/", NOT_LISTED),
    ("http://0x7f000001/", NOT_LISTED),
    ("http://2130706433/", NOT_LISTED),
    ("http://017700000001/", NOT_LISTED),
    ("http://0177.0.0.1/", NO_HOST),  # httpx refuses the leading-zero form
    ("http://127.0.0.1./", NOT_LISTED),
    ("http://[::1]/", NOT_LISTED),
    ("http://[::ffff:127.0.0.1]/", NOT_LISTED),
    ("http://[::ffff:7f00:1]/", NOT_LISTED),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", NOT_LISTED),
    ("http://169.254.169.254/latest/meta-data/", NOT_LISTED),
    # look-alike names
    ("http://api.example.com./", NOT_LISTED),
    ("http://api.example.com.evil.example/", NOT_LISTED),
    ("http://evilapi.example.com/", NOT_LISTED),
    ("http://api%2eexample.com/", NOT_LISTED),
    ("http://\uff41\uff50\uff49.example.com/", NO_HOST),  # full-width letters
    # schemes
    ("file:///etc/passwd", SCHEME),
    ("gopher://api.example.com/", SCHEME),
    ("ftp://api.example.com/", SCHEME),
    ("javascript:alert(1)", SCHEME),
    ("//api.example.com/v1", SCHEME),
    ("api.example.com/v1", SCHEME),
    # CR/LF and other control characters (a split request line at run time)
    ("http://api.example.com/v1\r\nX-Injected: 1", CONTROL),
    ("http://api.example.com\r\n.evil.example/", CONTROL),
    ("http://api.example.com/v1\n", CONTROL),
    ("http://api.example.com/\x00", CONTROL),
    ("http://api.example.com/\x7f", CONTROL),
    ("http://api.example.com/a b", CONTROL),
    ("http://api.example.com\t/", CONTROL),
    (" http://api.example.com/", CONTROL),
]
PROVIDERS = sorted(builtin_registry().providers)
# The providers whose Settings take a whole URL (`url`, format uri): the save-time table is about that
# field. Services configured by a host name (watsonx's `url`, AlibabaCloud's `host`) are covered by the
# run-time check every request goes through.
URL_PROVIDERS = [
    p
    for p in PROVIDERS
    if builtin_registry().get(p).settings_schema.get("properties", {}).get("url", {}).get("format") == "uri"
]


@pytest.fixture
async def open_api(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    hosts = InProcessHosts()

    async def open_(allowed: str) -> httpx.AsyncClient:
        client, _ = await hosts.open(host_settings(tmp_path / "home", AI_CONNECTOR_ALLOWED_HOSTS=allowed))
        return client

    yield open_
    await hosts.aclose()


@pytest.mark.parametrize("provider", URL_PROVIDERS)
async def test_trick_urls_are_refused_at_save_naming_the_field(open_api: Any, provider: str) -> None:
    api = await open_api(ALLOWED)
    document = builtin_registry().get(provider)
    # A provider that calls its service on save (Elasticsearch's endpoint PUT) is only refused here:
    # its accepted URLs would reach out to the network.
    accepted = ACCEPTED if document.on_save is None else []
    for url in accepted:
        r = await api.post(
            "/api/actions/connector", headers=HEADERS, json=connector_document(document, url=url)
        )
        assert r.status_code == 200, (url, r.text)
    for url, reason in REFUSED:
        r = await api.post(
            "/api/actions/connector", headers=HEADERS, json=connector_document(document, url=url)
        )
        assert r.status_code == 400, (url, r.text)
        errors = r.json()["attributes"]["errors"]
        assert [e["path"] for e in errors] == ["config.providerConfig.url"], (url, errors)
        assert reason in errors[0]["message"], (url, errors)
        assert "\r" not in r.text and "\n" not in errors[0]["message"]
    listed = await api.get("/api/actions/connectors", headers=HEADERS)
    assert len(listed.json()) == len(accepted)  # nothing refused was stored


@pytest.mark.parametrize("provider", URL_PROVIDERS)
async def test_a_connector_saved_before_the_list_narrowed_never_reaches_a_refused_host(
    open_api: Any, provider: str
) -> None:
    with FakeServer() as fake:
        # Elasticsearch's save hook: no endpoint yet (GET 404), created (PUT 200). Nothing else answers.
        fake.add(
            "*", "/.*", lambda request: FakeResponse.json({}, status=404 if request.method == "GET" else 200)
        )
        port = fake.url.rsplit(":", 1)[1]
        api = await open_api("*")
        document = builtin_registry().get(provider)
        ids = []
        spellings = ["localhost"] + (
            ["127.1", "127.0.0.1.", "[::ffff:127.0.0.1]"] if document.on_save is None else []
        )
        for url in (f"http://{host}:{port}/" for host in spellings):
            r = await api.post(
                "/api/actions/connector", headers=HEADERS, json=connector_document(document, url=url)
            )
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        saved = len(fake.requests)
        narrowed = await open_api("127.0.0.1")
        for cid in ids:
            r = await narrowed.post(
                f"/api/actions/connector/{cid}/_execute",
                headers=HEADERS,
                json={"params": run_params(task_of(document))},
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "error", r.text
        assert len(fake.requests) == saved  # not one request at run time


# Services configured by a host name build their URLs from it (watsonx: https://<url>/ml/v1/text/...,
# IbmWatsonxEmbeddingsModel.buildUri; AlibabaCloud: <http_schema>://<host>/v3/openapi/...): the URLs
# they build meet the same save-time rules, the fault named on the host-name field.
HOST_FIELDS = {"watsonxai": "url", "alibabacloud-ai-search": "host"}
HOST_REFUSED = [
    ("api.example.com@evil.example", USERINFO),
    ("user:pw@api.example.com", USERINFO),
    ("api.example.com\r\nX-Injected: 1", CONTROL),
    ("api.example.com /", CONTROL),
    ("evil.example", NOT_LISTED),
    ("127.1", NOT_LISTED),
]


@pytest.mark.parametrize("provider", sorted(HOST_FIELDS))
async def test_host_name_fields_meet_the_url_rules_at_save(open_api: Any, provider: str) -> None:
    api = await open_api(ALLOWED + ",iam.cloud.ibm.com")  # watsonx's key exchange
    field = HOST_FIELDS[provider]
    document = connector_document(builtin_registry().get(provider))
    settings = document["config"]["providerConfig"]
    settings[field] = "api.example.com"
    ok = await api.post("/api/actions/connector", headers=HEADERS, json=document)
    assert ok.status_code == 200, ok.text
    for host, reason in HOST_REFUSED:
        settings[field] = host
        r = await api.post("/api/actions/connector", headers=HEADERS, json=document)
        assert r.status_code == 400, (host, r.text)
        errors = r.json()["attributes"]["errors"]
        assert [e["path"] for e in errors] == [f"config.providerConfig.{field}"], (host, errors)
        assert reason in errors[0]["message"], (host, errors)
        assert "\r" not in r.text and "\n" not in errors[0]["message"]
    listed = await api.get("/api/actions/connectors", headers=HEADERS)
    assert len(listed.json()) == 1  # only the good one was stored
