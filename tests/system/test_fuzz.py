"""Fuzzing: schemathesis sends every operation of the API's own OpenAPI document generated
requests, valid and invalid, signed in where the operation asks for it. No answer may be a
server error, and every answer must conform to the document: its status code, content
type, headers and body.

The app runs in-process: schemathesis calls a WSGI adapter around the Chalice test client,
on emulated AWS (in-process moto) with the test stage's resources from infra/. Seeded data
(a draft of the fuzzing moderator, another owner's live campaign, rewards, a pledge waiting
for its payment and a paid one, their payments at the sandbox provider) gives the path
parameters ids that exist half of the time, so that requests get past the 404s; the
provider's notifications name those payments half of the time.

Bounded and repeatable in `make test`: FUZZ_EXAMPLES generated cases per operation and
generation mode (valid, invalid), derandomized. A longer, random hunt:
`FUZZ_EXAMPLES=300 FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/system/test_fuzz.py`.
"""

import json
import os
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from urllib.parse import quote

import pytest
import schemathesis
from chalice.test import Client
from hypothesis import HealthCheck, Phase, settings
from moto import mock_aws

from app import app
from chalicelib import aws, clock
from devtools.provision import provision
from tests.conftest import ROOT, STAGE, STAGE_ENV, token
from tests.factories import campaign_body, complete_payment, payout_account_body

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
YEAR = timedelta(days=365)
FUZZER = {"sub": "fuzzeuse", "name": "Fanny Fuzz", "groups": ("moderators",)}
BEARER = f"Bearer {token(FUZZER['sub'], name=FUZZER['name'], groups=FUZZER['groups'])}"
# DELETE /me erases its caller: another one, or the seeded resources would go with her.
ERASED = f"Bearer {token('effacee', name='Eva Effacée')}"
# Not negative_data_rejection: pydantic's lax parsing accepts some values that JSON Schema
# calls invalid ("2.0" for an integer parameter, "0" for a date: the Unix epoch), and
# answers them as it documents. Invalid requests are still sent, and checked as above.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.missing_required_header,
]


class ChaliceWSGI:
    """A WSGI app that hands each request to the Chalice test client, as `chalice local`
    does: the path stays percent-encoded, the query string is parsed by Chalice."""

    def __init__(self):
        self.client: Client | None = None

    def __call__(self, environ, start_response):
        path = quote(environ["PATH_INFO"].encode("latin-1"), safe="/")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        client = self.client or Client(app, stage_name=STAGE, project_dir=str(ROOT))
        answer = client.http.request(environ["REQUEST_METHOD"], path, headers=headers, body=body)
        start_response(f"{answer.status_code} {HTTPStatus(answer.status_code).phrase}", list(answer.headers.items()))
        return [answer.body or b""]


wsgi = ChaliceWSGI()
schema = schemathesis.openapi.from_wsgi("/openapi.json", wsgi)
schema.config.generation.update(max_examples=EXAMPLES)
# Every documented operation but the document itself (schemathesis leaves out its own
# source; tests/api/test_openapi.py checks it).
OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, item in schema.raw_schema["paths"].items()
    for method in item
    if path != "/openapi.json"
)
examples: Counter[str] = Counter()
seeded: dict[str, list[str]] = {}


@pytest.fixture(scope="module", autouse=True)
def emulated_app():
    """One emulated stage for the whole run, with a few resources to aim at."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in STAGE_ENV.items():
            patch.setenv(name, value)
        aws.client.cache_clear()
        with mock_aws():
            provision(STAGE)
            with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:
                wsgi.client = client
                seeded.update(_seed(client))
                yield
                wsgi.client = None
        aws.client.cache_clear()


def _call(client, method, path, body=None, who=BEARER, **headers):
    answer = client.http.request(
        method,
        path,
        headers={"Authorization": who, "Content-Type": "application/json", **headers},
        body=json.dumps(body).encode() if body is not None else b"",
    )
    assert answer.status_code < 300, answer.body
    return json.loads(answer.body)


def _seed(client) -> dict[str, list[str]]:
    owner = f"Bearer {token('porteuse', name='Camille Lecarpentier')}"
    reward = {"title": "Atelier tricot", "description": "Deux heures.", "min_amount_cents": 3000, "quantity": 5}
    draft = _call(client, "POST", "/campaigns", campaign_body())
    draft["rewards"] = [_call(client, "POST", f"/campaigns/{draft['id']}/rewards", reward)]
    live = _call(client, "POST", "/campaigns", campaign_body(title="Cocotte Minute"), who=owner)
    live["rewards"] = [_call(client, "POST", f"/campaigns/{live['id']}/rewards", reward, who=owner)]
    _call(client, "POST", f"/campaigns/{live['id']}/submit", who=owner)
    _call(client, "POST", "/me/payout-account", payout_account_body(), who=owner)
    _call(client, "POST", f"/campaigns/{live['id']}/approve")
    waiting = _call(
        client, "POST", f"/campaigns/{live['id']}/pledges", {"amount_cents": 5000}, **{"Idempotency-Key": "k"}
    )
    paid = _call(
        client, "POST", f"/campaigns/{live['id']}/pledges", {"amount_cents": 3000}, **{"Idempotency-Key": "k2"}
    )
    complete_payment(client, paid["payment"]["redirect_url"], "succeeded")
    now = clock.now()
    fund = _call(client, "POST", "/matching-funds", _fund(opens_at=clock.iso(now), closes_at=clock.iso(now + YEAR)))
    return {
        "campaign_id": [draft["id"], live["id"]],
        "reward_id": [draft["rewards"][0]["id"], live["rewards"][0]["id"]],
        "pledge_id": [waiting["id"], paid["id"]],
        "fund_id": [fund["id"]],
        "payment_id": [_payment_id(waiting), _payment_id(paid)],
        "provider": ["sandbox"],
    }


def _payment_id(pledge) -> str:
    return pledge["payment"]["redirect_url"].rsplit("/", 1)[1]


def _pick(value) -> int:
    """A stable choice from a generated value (hash() changes with each process)."""
    return zlib.crc32(repr(value).encode())


@schema.hook
def map_path_parameters(context, path_parameters):
    for name, value in (path_parameters or {}).items():
        known = seeded.get(name)
        if known and _pick(value) % 2 == 0:
            path_parameters[name] = known[_pick(value) // 2 % len(known)]
    return path_parameters


@schema.hook
def map_query(context, query):
    """The provider's notifications: half of them about a payment that exists."""
    if query and "RessourceId" in query and _pick(query) % 2 == 0:
        query["RessourceId"] = seeded["payment_id"][_pick(query) // 2 % len(seeded["payment_id"])]
        query["EventType"] = ("PAYIN_NORMAL_SUCCEEDED", "PAYIN_NORMAL_FAILED")[_pick(query) // 4 % 2]
    return query


def _signs_in(case) -> bool:
    security = case.operation.definition.raw.get("security")
    if not security:
        return False
    if {} in security:  # optional: signed in for half of the cases
        return _pick((case.path_parameters, case.query)) % 2 == 0
    return True


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_conforms_to_the_document(case):
    examples[f"{case.operation.method.upper()} {case.operation.path}"] += 1
    erasure = (case.operation.method, case.operation.path) == ("delete", "/me")
    headers = {"Authorization": ERASED if erasure else BEARER} if _signs_in(case) else None
    case.call_and_validate(headers=headers, checks=CHECKS)


def test_the_fuzzer_reached_every_operation():
    """Runs after the fuzzing above (file order): each operation had its examples."""
    if not examples:
        pytest.skip("the fuzzing test was not selected")
    print(f"\nfuzzing: {len(examples)} operations, {sum(examples.values())} requests")
    for operation in OPERATIONS:
        print(f"  {examples[operation]:5d}  {operation}")
    assert set(examples) == set(OPERATIONS)


# --- what the fuzzer found -----------------------------------------------------------------


def _fund(**moments):
    return {
        "name": "Fonds d'abondement culture",
        "decision_ref": "délibération CD-2026-045",
        "budget_cents": 1_000_000,
        "match_percent": 100,
        "cap_per_pledge_cents": 10_000,
        "cap_per_campaign_cents": 100_000,
        **moments,
    }


@pytest.mark.parametrize(
    "moments",
    [
        # stored as "39-11-12T…" (strftime does not pad years before 1000), which the
        # public list of funds then failed to read: 500 for everyone, for good
        {"opens_at": "0039-11-12T00:47:23Z", "closes_at": "2030-07-13T09:50:08Z"},
        # year 1 at +01:00 is year 0 in UTC: the conversion itself failed, 500
        {"opens_at": "0001-01-01T00:00:00+01:00", "closes_at": "2030-07-13T09:50:08Z"},
        {"opens_at": "2026-01-01T00:00:00Z", "closes_at": "9999-12-31T23:59:59-01:00"},
    ],
)
def test_a_fund_in_a_far_year_is_refused_and_the_funds_stay_readable(moments):
    created = wsgi.client.http.post("/matching-funds", headers=_headers(), body=json.dumps(_fund(**moments)))
    assert created.status_code == 422, created.body
    field = next(iter(json.loads(created.body)["errors"]))["field"]
    assert field in moments
    listed = wsgi.client.http.get("/matching-funds")
    assert listed.status_code == 200, listed.body


def test_times_before_the_year_1000_keep_their_sortable_form():
    moment = datetime(39, 11, 12, 0, 47, 23, tzinfo=UTC)
    assert clock.iso(moment) == "0039-11-12T00:47:23Z"
    assert clock.parse(clock.iso(moment)) == moment
    assert clock.iso(moment) < clock.iso(datetime(2026, 1, 1, tzinfo=UTC))


def _headers():
    return {"Authorization": BEARER, "Content-Type": "application/json"}
