"""DynamoDB requests made by each route, counted with botocore's event hooks.

The app's clients are cached (chalicelib.aws.client); a handler on the DynamoDB client's
`before-parameter-build` event sees every API call it makes, with its parameters (botocore's
own retries of one call are not counted again). Routes run through the Chalice test
client on in-process moto, with the resources created from infra/.

The sandbox payment provider keeps its own state in the same table (items `PSP#<kind>#<id>`:
wallets, payments, refunds), as a real provider keeps it at home, behind an HTTPS call.
Its requests are labelled apart ("provider GetItem", `label`) and are not the platform's:
the goals count the platform's alone, the tables show the provider's in their own column.

To measure more routes, write a scenario: a function that takes a `Recorder` and calls
routes with `rec.call(...)`; `run_scenario` returns its rows. For code that is not a
route, `count_requests(action)` answers the Counter of operations, and `counting(key)`
counts a block of code by any label of (operation, parameters) (`label`, `by_kind`, or
bench/closure.py's).
"""

import contextlib
import io
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
STAGE = "test"
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
STAGE_ENV = {**CONFIG.get("environment_variables", {}), **CONFIG["stages"][STAGE]["environment_variables"]}

# The campaign half of the SPEC's API: the routes the goals below are about.
CAMPAIGN_ROUTES = {
    ("GET", "/campaigns"),
    ("POST", "/campaigns"),
    ("GET", "/campaigns/{campaign_id}"),
    ("PATCH", "/campaigns/{campaign_id}"),
    ("POST", "/campaigns/{campaign_id}/rewards"),
    ("PATCH", "/campaigns/{campaign_id}/rewards/{reward_id}"),
    ("DELETE", "/campaigns/{campaign_id}/rewards/{reward_id}"),
    ("POST", "/campaigns/{campaign_id}/submit"),
    ("POST", "/campaigns/{campaign_id}/approve"),
    ("POST", "/campaigns/{campaign_id}/reject"),
    ("POST", "/campaigns/{campaign_id}/cancel"),
    ("GET", "/me/campaigns"),
    ("GET", "/moderation/queue"),
    ("GET", "/stats"),
}


# --- counting -------------------------------------------------------------------------


@contextmanager
def counting(
    key: Callable[[str, dict[str, Any]], str] | None = None, service: str = "dynamodb"
) -> Iterator[Counter[str]]:
    """The requests made inside the block to `service` (on the app's cached client), by
    operation name (GetItem, Query…), or by `key(operation, parameters)` when given."""
    from chalicelib import aws

    operations: Counter[str] = Counter()
    events = aws.client(service).meta.events
    unique_id = f"bench-count-{service}"
    lock = threading.Lock()  # settlement calls from a thread pool

    # before-parameter-build: once per API call (not per retry), with the call's own parameters.
    def count(model, params, **_: Any) -> None:
        name = key(model.name, params) if key else model.name
        with lock:
            operations[name] += 1

    events.register(f"before-parameter-build.{service}", count, unique_id=unique_id)
    try:
        yield operations
    finally:
        events.unregister(f"before-parameter-build.{service}", unique_id=unique_id)


def count_requests(action: Callable[[], Any], key: Callable[[str, dict[str, Any]], str] | None = None) -> Counter[str]:
    """Run `action`; answer the DynamoDB operations it made."""
    with counting(key) as operations:
        action()
    return operations


# --- whose requests: the platform's, or the sandbox provider's ---------------------------

PROVIDER = "provider "  # label prefix of the sandbox provider's own requests


def item_keys(params: dict[str, Any]) -> list[str]:
    """The partition keys a DynamoDB call names: its item or key, a batch's keys, a
    transaction's items (a Query names its partition in values, not here)."""
    found = [params[k]["pk"]["S"] for k in ("Key", "Item") if k in params]
    found += [key["pk"]["S"] for table in params.get("RequestItems", {}).values() for key in table.get("Keys", [])]
    for item in params.get("TransactItems", []):
        (request,) = item.values()
        found.append((request.get("Key") or request.get("Item"))["pk"]["S"])
    return found


def is_provider_call(params: dict[str, Any]) -> bool:
    """Whether a call is the sandbox provider's: it names only PSP# items (a provider's
    wallet transactions are read by a Query of the wallet's partition)."""
    names = item_keys(params)
    if not names and "KeyConditionExpression" in params:  # a Query: its partition, the first value
        names = [v["S"] for v in params.get("ExpressionAttributeValues", {}).values() if "S" in v][:1]
    return bool(names) and all(name.startswith("PSP#") for name in names)


def label(operation: str, params: dict[str, Any]) -> str:
    """The operation's name, "provider <name>" when it is the sandbox provider's."""
    return f"{PROVIDER}{operation}" if is_provider_call(params) else operation


def by_kind(operation: str, params: dict[str, Any]) -> str:
    """`label`, with the kinds of items a call of the platform's names ("TransactWriteItems
    CAMPAIGN,PLEDGE"); Queries by name alone."""
    if is_provider_call(params):
        return f"{PROVIDER}{operation}"
    if operation == "Query":
        return operation
    return f"{operation} {','.join(sorted({name.split('#', 1)[0] for name in item_keys(params)}))}"


def ours(operations: Counter[str]) -> Counter[str]:
    """The platform's requests, by operation name (whatever the labels' detail)."""
    counted: Counter[str] = Counter()
    for name, n in operations.items():
        if not name.startswith(PROVIDER):
            counted[name.split(" ", 1)[0]] += n
    return counted


def provider_requests(operations: Counter[str]) -> Counter[str]:
    """The sandbox provider's requests, by operation name."""
    return Counter({name.removeprefix(PROVIDER): n for name, n in operations.items() if name.startswith(PROVIDER)})


# --- the emulated stack and the scenario recorder --------------------------------------


def use_fake_aws() -> None:
    """Fake credentials and no endpoint, as tests/conftest.py: nothing can reach AWS."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=STAGE_ENV["AWS_DEFAULT_REGION"],
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)


@contextmanager
def stage_environment(**extra: str) -> Iterator[None]:
    """The test stage's variables (and `extra`) in os.environ, as Lambda sets them; the
    app's cached clients are dropped on the way in and out."""
    from chalicelib import aws

    use_fake_aws()
    values = {**STAGE_ENV, **extra}
    saved = {name: os.environ.get(name) for name in values}
    aws.client.cache_clear()
    os.environ.update(values)
    try:
        yield
    finally:
        aws.client.cache_clear()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def emulated_aws() -> Iterator[None]:
    """In-process moto with the test stage's resources from infra/, for calling chalicelib."""
    from moto import mock_aws

    from devtools.provision import provision

    with stage_environment(), mock_aws():
        provision(STAGE)
        yield


@contextmanager
def emulated_stack() -> Iterator[Any]:
    """In-process moto with the test stage's resources from infra/; yields the Chalice test client."""
    from chalice.test import Client

    from app import app

    with emulated_aws(), Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        yield client


def app_logs_muted() -> contextlib.AbstractContextManager:
    """The app's JSON log lines and metrics (chalicelib/observability.py, on stdout) kept
    out of the benchmark's output."""
    return contextlib.redirect_stdout(io.StringIO())


def headers(sub: str, *, name: str = "", moderator: bool = False) -> dict[str, str]:
    from chalicelib import identity

    claims: dict[str, Any] = {"sub": sub, "name": name or sub, "email": f"{sub}@exemple.fr"}
    if moderator:
        claims["cognito:groups"] = ["moderators"]
    token = identity.sign_dev_token(STAGE_ENV["DEV_JWT_SECRET"], claims)
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@dataclass
class Row:
    method: str
    route: str  # the route's path template, as app.py declares it
    case: str
    status: int
    operations: Counter[str]  # labelled by the recorder's key: the provider's apart

    @property
    def requests(self) -> int:
        """The platform's requests (the sandbox provider's own excluded)."""
        return sum(ours(self.operations).values())

    @property
    def provider(self) -> int:
        return sum(provider_requests(self.operations).values())


FORM = "application/x-www-form-urlencoded"


class Recorder:
    """Calls routes through the test client, checks each status, keeps the counts
    (labelled by `key`: `label` unless told)."""

    def __init__(self, client, key: Callable[[str, dict[str, Any]], str] = label):
        self.client = client
        self.key = key
        self.rows: list[Row] = []

    def call(
        self,
        method: str,
        route: str,
        *,
        query: str = "",
        as_: dict[str, str] | None = None,
        body: dict | None = None,
        form: dict[str, str] | None = None,
        expect: int = 200,
        case: str = "",
        measured: bool = True,
        **ids: str,
    ) -> Any:
        """Call `route` with its {placeholders} filled from `ids`, with a JSON `body` or an
        HTML `form`. A status other than `expect` is an error: no figure may come from a
        refused request by mistake. Answers the JSON body (an HTML page: its text)."""
        path = route.format(**ids) + (f"?{query}" if query else "")
        sent = dict(as_ or {})
        if form is not None:
            payload = urlencode(form).encode()
            sent["Content-Type"] = FORM
        else:
            payload = json.dumps(body).encode() if body is not None else b""
        answers = []
        with app_logs_muted():
            operations = count_requests(
                lambda: answers.append(self.client.http.request(method, path, headers=sent, body=payload)),
                self.key,
            )
        answer = answers[0]
        if answer.status_code != expect:
            raise AssertionError(f"{method} {path}: {answer.status_code}, expected {expect}: {answer.body}")
        if measured:
            self.rows.append(Row(method, route, case, answer.status_code, operations))
        if answer.headers.get("Content-Type", "").startswith("application/json"):
            return answer.json_body
        return answer.body.decode()


def run_scenario(
    client, scenario: Callable[[Recorder], None], key: Callable[[str, dict[str, Any]], str] = label
) -> list[Row]:
    recorder = Recorder(client, key)
    scenario(recorder)
    return recorder.rows


# --- the campaign scenario --------------------------------------------------------------

OWNER = headers("porteur", name="Yannick Hervé")
STRANGER = headers("passant", name="Jean Passant")
MODERATOR = headers("moderatrice", name="Claire Moderatrice", moderator=True)
ANONYMOUS: dict[str, str] = {}
ONE = "/campaigns/{campaign_id}"


def campaign_body(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "Le rythme des maux",
        "summary": "Un album enregistré avec des adolescents hospitalisés à Saint-Lô.",
        "description": "Des chansons écrites et enregistrées avec les jeunes du service pédiatrique.",
        "category": "culture",
        "postcode": "50000",
        "commune": "Saint-Lô",
        "goal_cents": 500_000,
        "funding_model": "all_or_nothing",
        "duration_days": 30,
        **overrides,
    }


# A person's payout account as the SPEC's POST /me/payout-account takes it (tests/factories.py too).
PAYOUT_ACCOUNT = {
    "kind": "natural",
    "first_name": "Yannick",
    "last_name": "Hervé",
    "birthday": "1978-04-12",
    "nationality": "FR",
    "country_of_residence": "FR",
    "address": {"line1": "12 rue de la Poterne", "postcode": "50000", "city": "Saint-Lô", "country": "FR"},
}


def _payout_account(rec: Recorder) -> None:
    """The owner's payout account (approval needs one), opened once, not measured."""
    if rec.client.http.get("/me/payout-account", headers=OWNER).status_code == 404:
        rec.call("POST", "/me/payout-account", as_=OWNER, body=PAYOUT_ACCOUNT, expect=201, measured=False)


def _live_campaign(rec: Recorder, **overrides: Any) -> str:
    """A live campaign made through the API, not measured."""
    campaign_id = rec.call("POST", "/campaigns", as_=OWNER, body=campaign_body(**overrides), expect=201, measured=False)
    campaign_id = campaign_id["id"]
    rec.call("POST", ONE + "/submit", as_=OWNER, measured=False, campaign_id=campaign_id)
    _payout_account(rec)
    rec.call("POST", ONE + "/approve", as_=MODERATOR, measured=False, campaign_id=campaign_id)
    return campaign_id


def _lists(rec: Recorder) -> None:
    """Public lists over 7 live campaigns (sport and culture; none in heritage)."""
    page = rec.call("GET", "/campaigns", query="limit=2", case="first page, limit 2")
    rec.call("GET", "/campaigns", query=f"limit=2&cursor={page['next_cursor']}", case="next page (cursor)")
    rec.call("GET", "/campaigns", case="default page (limit 20)")
    rec.call("GET", "/campaigns", query="sort=ending_soon", case="sort=ending_soon")
    rec.call("GET", "/campaigns", query="sort=most_funded", case="sort=most_funded")
    rec.call("GET", "/campaigns", query="status=cancelled", case="status=cancelled (own partition)")
    rec.call("GET", "/campaigns", query="status=live&category=culture", case="filtered: status and category")
    rec.call("GET", "/campaigns", query="postcode=504", case="filtered: postcode prefix")
    rec.call("GET", "/campaigns", query="category=heritage&limit=2", case="filtered: no match in 7, limit 2")


def _drafting(rec: Recorder, campaign_id: str) -> None:
    rec.call("GET", ONE, as_=OWNER, case="draft, by its owner", campaign_id=campaign_id)
    rec.call("GET", ONE, as_=STRANGER, expect=404, case="draft, by a stranger", campaign_id=campaign_id)
    rec.call("PATCH", ONE, as_=OWNER, body={"goal_cents": 450_000}, case="draft", campaign_id=campaign_id)
    album = {"title": "Un album dédicacé", "min_amount_cents": 2_000, "quantity": 100}
    album_id = rec.call("POST", ONE + "/rewards", as_=OWNER, body=album, expect=201, campaign_id=campaign_id)["id"]
    concert = {"title": "Un concert privé", "min_amount_cents": 50_000, "quantity": 2}
    concert_id = rec.call(
        "POST", ONE + "/rewards", as_=OWNER, body=concert, expect=201, measured=False, campaign_id=campaign_id
    )["id"]
    reward = ONE + "/rewards/{reward_id}"
    rec.call("PATCH", reward, as_=OWNER, body={"quantity": 150}, campaign_id=campaign_id, reward_id=album_id)
    rec.call("DELETE", reward, as_=OWNER, campaign_id=campaign_id, reward_id=concert_id)


def campaign_scenario(rec: Recorder) -> None:
    """Every campaign route, along a campaign's life, with a few live ones around it."""
    _live_campaign(rec, category="sport", title="Le club de kayak de Granville")
    for n in range(5):
        _live_campaign(rec, title=f"Exp3D, atelier numéro {n}", postcode="50400" if n % 2 else "50000")
    campaign_id = rec.call("POST", "/campaigns", as_=OWNER, body=campaign_body(), expect=201, case="new draft")["id"]
    _drafting(rec, campaign_id)
    rec.call("POST", ONE + "/submit", as_=OWNER, campaign_id=campaign_id)
    rec.call("GET", "/moderation/queue", as_=MODERATOR)
    reason = {"reason": "Précisez le budget du studio."}
    rec.call("POST", ONE + "/reject", as_=MODERATOR, body=reason, campaign_id=campaign_id)
    rec.call("POST", ONE + "/submit", as_=OWNER, measured=False, campaign_id=campaign_id)
    _payout_account(rec)
    rec.call("POST", ONE + "/approve", as_=MODERATOR, campaign_id=campaign_id)
    rec.call("GET", ONE, as_=ANONYMOUS, case="live, anonymous", campaign_id=campaign_id)
    rec.call("GET", ONE, expect=404, case="unknown id", campaign_id="inconnue")
    _lists(rec)
    rec.call("GET", "/me/campaigns", as_=OWNER)
    rec.call("GET", "/stats")
    rec.call("POST", ONE + "/cancel", as_=OWNER, case="live, by its owner", campaign_id=campaign_id)


# --- the pledge scenario -----------------------------------------------------------------

PLEDGE_ROUTES = {
    ("POST", "/campaigns/{campaign_id}/pledges"),
    ("POST", "/pledges/{pledge_id}/cancel"),
    ("GET", "/campaigns/{campaign_id}/pledges"),
    ("GET", "/me/pledges"),
}
# The routes a payment moves through: the provider's notification (GET, as Mangopay's hooks
# come, or POST), and the sandbox provider's hosted page and its buttons.
PAYMENT_ROUTES = {
    ("GET", "/payments/notifications/{provider}"),
    ("POST", "/payments/notifications/{provider}"),
    ("GET", "/sandbox/payments/{payment_id}"),
    ("POST", "/sandbox/payments/{payment_id}"),
}
PLEDGES = ONE + "/pledges"
CANCEL = "/pledges/{pledge_id}/cancel"
NOTIFICATION = "/payments/notifications/{provider}"
PAGE = "/sandbox/payments/{payment_id}"


def contributor(sub: str, key: str) -> dict[str, str]:
    return {**headers(sub, name="Léa Lefèvre"), "Idempotency-Key": key}


def payment_id(pledge: dict[str, Any]) -> str:
    """The payment of a pledge waiting for it: the last segment of its redirect_url."""
    return pledge["payment"]["redirect_url"].rsplit("/", 1)[1]


def paid_at_provider(pledge: dict[str, Any]) -> str:
    """The payer pays on the provider's page, away from the API (the sandbox's buttons,
    without their in-process notification): answers the notification's query."""
    from chalicelib import escrow

    payment = payment_id(pledge)
    assert escrow.SandboxEscrow().complete(payment, "succeeded") is not None
    return f"EventType=PAYIN_NORMAL_SUCCEEDED&RessourceId={payment}"


def pledge_scenario(rec: Recorder) -> None:
    """Pledges on a live campaign with a reward of 2 units, their payments confirmed (by
    the provider's notification, or the sandbox's page that notifies in-process) or
    refused, replays and refusals, and cancellations: of a pledge waiting for its payment,
    and of a paid one (refunded at the provider)."""
    album = {"title": "Un album dédicacé", "min_amount_cents": 2_000, "quantity": 2}
    draft = rec.call("POST", "/campaigns", as_=OWNER, body=campaign_body(), expect=201, measured=False)
    campaign_id = draft["id"]
    reward_id = rec.call(
        "POST", ONE + "/rewards", as_=OWNER, body=album, expect=201, measured=False, campaign_id=campaign_id
    )["id"]
    rec.call("POST", ONE + "/submit", as_=OWNER, measured=False, campaign_id=campaign_id)
    _payout_account(rec)
    rec.call("POST", ONE + "/approve", as_=MODERATOR, measured=False, campaign_id=campaign_id)

    lea, first = contributor("lea", "cle-1"), {"amount_cents": 2_500, "message": "Bravo à toute l'équipe !"}
    pledge = rec.call(
        "POST", PLEDGES, as_=lea, body=first, expect=201, case="first pledge of a contributor", campaign_id=campaign_id
    )
    rec.call(
        "POST", PLEDGES, as_=lea, body=first, expect=201, case="replay (same key and body)", campaign_id=campaign_id
    )
    sandbox = {"provider": "sandbox"}
    query = paid_at_provider(pledge)
    rec.call("GET", NOTIFICATION, query=query, case="succeeded, a contributor's first payment", **sandbox)
    rec.call("GET", NOTIFICATION, query=query, case="the same notification again", **sandbox)
    again = rec.call(
        "POST",
        PLEDGES,
        as_=contributor("lea", "cle-2"),
        body={"amount_cents": 1_000, "anonymous": True},
        expect=201,
        case="known contributor",
        campaign_id=campaign_id,
    )
    rec.call("POST", NOTIFICATION, query=paid_at_provider(again), case="succeeded, known contributor", **sandbox)

    with_reward = {"amount_cents": 3_000, "reward_id": reward_id}
    held = [
        rec.call(
            "POST",
            PLEDGES,
            as_=contributor(f"fan-{n}", "cle-1"),
            body=with_reward,
            expect=201,
            case="limited reward",
            campaign_id=campaign_id,
        )
        for n in range(2)
    ]
    as_ = contributor("fan-2", "cle-1")
    rec.call("POST", PLEDGES, as_=as_, body=with_reward, expect=409, case="reward sold out", campaign_id=campaign_id)
    rec.call("GET", PAGE, case="waiting for its payer", payment_id=payment_id(held[0]))
    rec.call(
        "POST",
        PAGE,
        form={"outcome": "succeeded"},
        expect=303,  # back to the pledge's return_url
        case="pays, then notifies in-process",
        payment_id=payment_id(held[0]),
    )
    rec.call(
        "POST",
        PAGE,
        form={"outcome": "failed"},
        expect=303,
        case="card refused (unit released)",
        payment_id=payment_id(held[1]),
    )
    rec.call("GET", PLEDGES, case="backers, anonymous", campaign_id=campaign_id)
    rec.call("GET", "/me/pledges", as_=lea)

    waiting = rec.call(
        "POST",
        PLEDGES,
        as_=contributor("lea", "cle-3"),
        body={"amount_cents": 1_500},
        expect=201,
        measured=False,
        campaign_id=campaign_id,
    )
    rec.call("POST", CANCEL, as_=lea, case="pending pledge", pledge_id=waiting["id"])
    rec.call("POST", CANCEL, as_=lea, case="paid pledge (refunded at the provider)", pledge_id=pledge["id"])
    rec.call("POST", CANCEL, as_=lea, expect=409, case="already cancelled", pledge_id=waiting["id"])


SCENARIOS: dict[str, Callable[[Recorder], None]] = {"campaigns": campaign_scenario, "pledges": pledge_scenario}


# --- report ---------------------------------------------------------------------------


def _shown(operations: Counter[str]) -> str:
    return ", ".join(f"{name}×{n}" if n > 1 else name for name, n in sorted(operations.items()))


def table(rows: list[Row]) -> str:
    """A line per call: the platform's requests, then the sandbox provider's own."""
    width = max(len(f"{r.method} {r.route}") for r in rows)
    case_width = max(len(r.case) for r in rows)
    lines = [f"  {'route':<{width}}  {'case':<{case_width}}  status  requests  operations  [provider's own]"]
    for r in rows:
        operations = _shown(ours(r.operations))
        if r.provider:
            operations += f"  [{r.provider}: {_shown(provider_requests(r.operations))}]"
        route = f"{r.method} {r.route}"
        lines.append(f"  {route:<{width}}  {r.case:<{case_width}}  {r.status:>6}  {r.requests:>8}  {operations}")
    return "\n".join(lines)


def unmeasured_routes(rows: list[Row]) -> list[str]:
    from app import api

    measured = {(r.method, r.route) for r in rows}
    return sorted(f"{s.method} {s.path}" for s in api.routes if (s.method, s.path) not in measured)


def goals(rows: list[Row]) -> list[str]:
    def worst(method: str, route: str, case_filter: Callable[[str], bool] = lambda case: True) -> int:
        return max(r.requests for r in rows if (r.method, r.route) == (method, route) and case_filter(r.case))

    scans = list(dict.fromkeys(f"{r.method} {r.route}" for r in rows if r.operations["Scan"]))
    get = worst("GET", "/campaigns/{campaign_id}")
    page = worst("GET", "/campaigns", lambda case: not case.startswith("filtered"))
    lines = [
        f"one request for a get: {get} (worst case) — {'met' if get == 1 else 'NOT met'}",
        f"one request for an unfiltered list page: {page} (worst case) — {'met' if page == 1 else 'NOT met'}",
        f"no Scan: {'met' if not scans else 'NOT met: ' + ', '.join(scans)}",
    ]

    def confirms(r: Row) -> bool:
        return r.route in (NOTIFICATION, PAGE) and r.case.startswith(("succeeded", "pays"))

    writing = [
        ("pledge", lambda r: (r.method, r.route) == ("POST", PLEDGES)),
        ("payment confirmation", confirms),
        ("cancellation", lambda r: (r.method, r.route) == ("POST", CANCEL)),
    ]
    for what, chosen in writing:
        made = [r for r in rows if chosen(r) and r.status < 400 and _count(r, WRITES)]
        if made:
            w, r = max(_count(row, WRITES) for row in made), max(_count(row, READS) for row in made)
            verdict = "met" if w == 1 and r <= 1 else "NOT met"
            worst = ", ".join(sorted({row.case for row in made if _count(row, READS) == r}))
            lines.append(
                f"one write request and at most one read per {what}: {w} and {r} (worst case: {worst}; "
                f"the provider's own apart) — {verdict}"
            )
    return lines


WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
READS = ("GetItem", "BatchGetItem", "Query", "TransactGetItems", "Scan")


def _count(row: Row, operations: tuple[str, ...]) -> int:
    """The platform's requests of these operations (the provider's excluded)."""
    mine = ours(row.operations)
    return sum(mine[name] for name in operations)


def report(rows: list[Row]) -> str:
    lines = [
        "DynamoDB requests per route (botocore before-parameter-build events; in-process moto, resources from infra/):"
    ]
    lines.append(table(rows))
    lines.append(
        "  (a filtered list reads ahead, a bounded number of Queries, until its page is full. [provider's own]: the\n"
        "  sandbox provider's requests on its PSP# items, in the same table; a real provider is an HTTPS call\n"
        "  instead: creating a payment, reading one again (a notification is never trusted), a refund)"
    )
    lines += [f"  goal: {line}" for line in goals(rows)]
    missing = unmeasured_routes(rows)
    if missing:
        lines.append(f"  routes not measured yet (no scenario): {', '.join(missing)}")
    return "\n".join(lines)
