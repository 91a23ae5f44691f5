"""CORS, as browsers enforce it: the stage's allowed origins get their answers and their
preflights (Authorization, Idempotency-Key), with Idempotent-Replayed readable; any other
origin gets no CORS header, so the browser keeps the answer from the page.

Proven in a real browser: headless Chromium (Debian's package, which `make test` installs)
opens tests/system/browser/pledge.html, served from another origin on 127.0.0.1, which lists the
campaigns of `chalice local`, signs in with a local token and pledges through fetch(), then
pays on the sandbox's hosted page (a form POST, as its button does) and comes back to its
return_url, where it reads the pledge, paid; the same page served from an origin the stage
does not allow is refused.

API Gateway answers OPTIONS itself only for routes declared with Chalice's `cors=`, which
allows a single origin; so every path has an OPTIONS route to the function instead
(chalicelib/http.py), whose middleware answers for the stage's list of origins.
"""

import contextlib
import functools
import json
import re
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from app import api, app
from chalicelib.settings import ConfigurationError, get_settings
from devtools import package
from tests.conftest import CONFIG, ROOT, STAGE, STAGE_ENV, token
from tests.factories import payout_account_body
from tests.system.conftest import _free_port, http_call

CHROMIUM = Path("/usr/bin/chromium")
PAGES = Path(__file__).parent / "browser"
ALLOWED_PORT = 3000  # the test stage allows http://127.0.0.1:3000 and http://localhost:3000
SIGNED_IN_HEADERS = "authorization,content-type,idempotency-key"


@pytest.fixture(scope="module")
def http():
    """The Chalice test client: these requests need no AWS (preflights, the document, 401s)."""
    with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        yield client.http


def preflight(http, path, origin, method="POST", headers=SIGNED_IN_HEADERS):
    return http.request(
        "OPTIONS",
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def concrete(path):
    return re.sub(r"\{\w+\}", "abc", path)


# --- what the API answers ---------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:3000"])
def test_a_signed_in_route_s_preflight_from_an_allowed_origin(http, origin):
    answer = preflight(http, "/campaigns/abc/pledges", origin)
    assert answer.status_code == 204
    headers = answer.headers
    assert headers["Access-Control-Allow-Origin"] == origin
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "OPTIONS"}
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed >= set(SIGNED_IN_HEADERS.split(","))
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert headers["Vary"] == "Origin"


@pytest.mark.parametrize("path", sorted({spec.path for spec in api.routes}))
def test_every_path_answers_preflights_with_its_methods(http, path):
    answer = preflight(http, concrete(path), "http://localhost:3000", method="GET")
    assert answer.status_code == 204
    methods = {spec.method for spec in api.routes if spec.path == path} | {"OPTIONS"}
    assert set(answer.headers["Access-Control-Allow-Methods"].split(", ")) == methods


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:3001", "https://localhost:3000", "null"])
def test_other_origins_get_no_cors_header(http, origin):
    answers = [preflight(http, "/campaigns/abc/pledges", origin), http.get("/openapi.json", headers={"Origin": origin})]
    for answer in answers:
        assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
        assert answer.headers["Vary"] == "Origin"


def test_answers_and_errors_to_an_allowed_origin_expose_idempotent_replayed(http):
    origin = {"Origin": "http://127.0.0.1:3000"}
    answers = [
        http.get("/openapi.json", headers=origin),
        http.post("/campaigns", headers={**origin, "Content-Type": "application/json"}, body=b"{}"),  # 401
        http.request("PUT", "/campaigns", headers=origin),  # 405, from Chalice
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 405]
    for answer in answers:
        assert answer.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
        assert answer.headers["Access-Control-Expose-Headers"] == "Idempotent-Replayed"


def test_origins_are_set_per_stage():
    for stage in ("local", "test"):
        variables = CONFIG["stages"][stage]["environment_variables"]
        assert variables["ALLOWED_ORIGINS"] == "http://localhost:3000,http://127.0.0.1:3000"
    # Hosted stages: the stack's WebOrigins parameter, also the media bucket's CORS.
    template = package.load_template(package.TEMPLATE)
    wired = template["Metadata"][package.ENVIRONMENT_KEY]["ALLOWED_ORIGINS"]
    assert wired == {"Fn::Join": [",", {"Ref": "WebOrigins"}]}


def test_the_stage_s_settings_read_the_origins(monkeypatch):
    for name, value in STAGE_ENV.items():
        monkeypatch.setenv(name, value)
    assert get_settings().allowed_origins == ("http://localhost:3000", "http://127.0.0.1:3000")


@pytest.mark.parametrize("origins", ["http://localhost:3000/", "localhost:3000", "http://site.fr/page"])
def test_an_origin_that_could_never_match_is_a_configuration_error(monkeypatch, origins):
    for name, value in STAGE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALLOWED_ORIGINS", f"https://oze.manche.fr,{origins}")
    with pytest.raises(ConfigurationError, match="ALLOWED_ORIGINS"):
        get_settings()


# --- in a real browser --------------------------------------------------------------------------


@contextlib.contextmanager
def page_server(port):
    """tests/system/browser/ served on 127.0.0.1:port: another origin than the API's."""
    handler = functools.partial(_QuietHandler, directory=str(PAGES))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as error:
        pytest.fail(f"cannot serve the test page on 127.0.0.1:{port}, an origin the test stage allows: {error}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def open_in_chromium(url: str) -> tuple[dict, str]:
    """The page's #result once its script is done, and the browser's console."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: `make test` installs Debian's chromium package, which failed here")
    with tempfile.TemporaryDirectory() as profile:
        command = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            # virtual time waits for pending fetches; the budget bounds the rest
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ]
        run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="result">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads(found.group(1)), run.stderr


@pytest.fixture(scope="module")
def live(api_server):
    """A live campaign on `chalice local`, and a contributor's token for the page."""
    owner = {"Authorization": f"Bearer {token('porteur-navigateur', name='Grégory Jamard')}"}
    moderator = {"Authorization": f"Bearer {token('moderatrice-navigateur', groups=('moderators',))}"}
    body = {
        "title": "Exp3D — imprimantes 3D de Saint-Lô",
        "summary": "Des imprimantes 3D conçues et montées à Saint-Lô.",
        "description": "Grégory Jamard fabrique des imprimantes 3D dans son atelier de Saint-Lô, pièces normandes.",
        "category": "business",
        "postcode": "50000",
        "commune": "Saint-Lô",
        "goal_cents": 200_000,
    }
    status, _, campaign = http_call("POST", f"{api_server}/campaigns", body, owner)
    assert status == 201, campaign
    assert http_call("POST", f"{api_server}/campaigns/{campaign['id']}/submit", None, owner)[0] == 200
    assert http_call("POST", f"{api_server}/me/payout-account", payout_account_body(), owner)[0] == 201
    assert http_call("POST", f"{api_server}/campaigns/{campaign['id']}/approve", None, moderator)[0] == 200
    return campaign


def page_url(origin, api_server, campaign, contributor):
    query = {"api": api_server, "campaign": campaign["id"], "token": token(contributor, name="Léa Dupont")}
    return f"{origin}/pledge.html?{urlencode(query)}"


def my_pledges(api_server, contributor):
    headers = {"Authorization": f"Bearer {token(contributor)}"}
    status, _, page = http_call("GET", f"{api_server}/me/pledges", None, headers)
    assert status == 200
    return page["items"]


def test_a_page_of_an_allowed_origin_lists_signs_in_pledges_and_pays(api_server, live):
    with page_server(ALLOWED_PORT) as origin:
        result, console = open_in_chromium(page_url(origin, api_server, live, "lea-navigateur"))
    assert result["origin"] == "http://127.0.0.1:3000"
    assert result["list_status"] == 200 and live["title"] in result["titles"]
    made = result["pledge"]
    assert result["pledge_status"] == 201 and made["amount_cents"] == 2500
    assert made["status"] == "pending_payment"
    assert made["payment"]["redirect_url"].startswith(f"{api_server}/sandbox/payments/")
    assert result["first_replayed"] is None
    assert result["replay_status"] == 201 and result["replayed"] == "true" and result["same_pledge"] is True
    # Paid on the provider's page, then back on the site's page (its return_url).
    assert result["returned_to"] == f"{origin}/pledge.html?returned=1"
    assert result["mine_status"] == 200 and result["after_payment"] == "paid"
    assert "CORS" not in console
    (mine,) = my_pledges(api_server, "lea-navigateur")
    assert (mine["id"], mine["status"]) == (made["id"], "paid")
    shown = http_call("GET", f"{api_server}/campaigns/{live['id']}")[2]
    assert (shown["raised_cents"], shown["pledge_count"]) == (2500, 1)


def test_a_page_of_another_origin_is_refused_by_the_browser(api_server, live):
    with page_server(_free_port()) as origin:
        result, console = open_in_chromium(page_url(origin, api_server, live, "paul-navigateur"))
    assert result["list_error"] == result["pledge_error"] == "TypeError: Failed to fetch"
    assert "list_status" not in result and "pledge_status" not in result
    assert f"from origin '{origin}' has been blocked by CORS policy" in console
    assert my_pledges(api_server, "paul-navigateur") == []  # the preflight stopped the pledge itself
