"""Demo data for the local stage: the first campaigns of the Manche's Ozé, in their real
states, made through the same code as the API (campaigns, pledges, closure)."""

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, TypeVar

from devtools.stage import use_stage

if TYPE_CHECKING:
    from chalicelib.identity import Identity
    from chalicelib.records import Fund


class DemoCampaign(TypedDict):
    """A demo campaign: its owner (sub, name), its fields and rewards as the API takes them,
    when it was approved, and what it raised from how many pledges."""

    owner: tuple[str, str]
    fields: dict[str, Any]
    rewards: list[dict[str, Any]]
    approved_days_ago: int
    raised_cents: int
    pledges: int
    news: NotRequired[list[dict[str, Any]]]


CONTRIBUTORS = [
    "Léa Dupont",
    "Jean Lefèvre",
    "Marie Lecoq",
    "Thomas Hébert",
    "Camille Leroux",
    "Hugo Marie",
    "Chloé Lemonnier",
    "Louis Guérin",
    "Manon Lebrun",
    "Gabriel Legrand",
    "Inès Hamel",
    "Arthur Letellier",
    "Jade Lepetit",
    "Raphaël Osmont",
    "Zoé Lesage",
    "Nathan Poisson",
    "Louise Quesnel",
    "Jules Lebas",
    "Alice Vautier",
    "Paul Lecanu",
    "Emma Jeanne",
    "Victor Houel",
    "Lina Fauvel",
    "Adam Gosselin",
    "Rose Hue",
    "Noé Lecluze",
    "Anna Mauger",
    "Tom Duval",
    "Margaux Yvon",
    "Éloïse Pinel",
]

CAMPAIGNS: list[DemoCampaign] = [
    {
        "owner": ("gregory-jamard", "Grégory Jamard"),
        "fields": {
            "title": "Exp3D, des imprimantes 3D fabriquées à Saint-Lô",
            "summary": "Des imprimantes 3D robustes et réparables, conçues et assemblées dans la Manche.",
            "description": (
                "Après dix ans de bricolage et de prototypes, Grégory Jamard crée Exp3D à Saint-Lô. "
                "Ses imprimantes 3D sont pensées pour durer : pièces standard, plans ouverts, réparation sur place. "
                "Votre contribution finance le premier lot de pièces et l'outillage de l'atelier."
            ),
            "category": "business",
            "postcode": "50000",
            "commune": "Saint-Lô",
            "goal_cents": 200000,
            "funding_model": "all_or_nothing",
            "duration_days": 45,
        },
        "rewards": [
            {"title": "Porte-clés imprimé en 3D", "description": "Aux couleurs de la Manche", "min_amount_cents": 1500},
            {
                "title": "Initiation à l'impression 3D",
                "description": "Deux heures à l'atelier",
                "min_amount_cents": 5000,
                "quantity": 20,
            },
            {
                "title": "Imprimante 3D en kit",
                "description": "Le premier modèle, à monter soi-même",
                "min_amount_cents": 45000,
                "quantity": 5,
            },
        ],
        "approved_days_ago": 20,
        "raised_cents": 385000,
        "pledges": 24,
    },
    {
        "owner": ("camille-lecarpentier", "Camille Lecarpentier"),
        "fields": {
            "title": "Cocotte Minute, la boutique de tricot de Saint-Lô",
            "summary": "Une mercerie et un lieu d'ateliers de tricot en centre-ville de Saint-Lô.",
            "description": (
                "Camille ouvre Cocotte Minute : des laines de la région, des patrons, et surtout des ateliers "
                "pour apprendre à tricoter ensemble. La collecte finance l'aménagement de la salle d'atelier."
            ),
            "category": "business",
            "postcode": "50000",
            "commune": "Saint-Lô",
            "goal_cents": 250000,
            "funding_model": "all_or_nothing",
            "duration_days": 40,
        },
        "rewards": [
            {"title": "Pelote de laine normande", "description": "Filée dans la Manche", "min_amount_cents": 1500},
            {
                "title": "Atelier tricot débutant",
                "description": "Une séance de deux heures",
                "min_amount_cents": 3000,
                "quantity": 30,
            },
            {
                "title": "Atelier « mon premier pull »",
                "description": "Quatre séances, laine comprise",
                "min_amount_cents": 12000,
                "quantity": 10,
            },
        ],
        "approved_days_ago": 52,
        "raised_cents": 290000,
        "pledges": 26,
    },
    {
        "owner": ("yannick-herve", "Yannick Hervé"),
        "fields": {
            "title": "Le rythme des maux",
            "summary": "Un album enregistré avec des adolescents hospitalisés à Saint-Lô.",
            "description": (
                "Musicien intervenant à l'hôpital, Yannick Hervé a écrit avec les adolescents "
                "du service de pédiatrie les chansons de leur séjour. "
                "La collecte paie le studio, le pressage du disque et un concert de sortie."
            ),
            "category": "culture",
            "postcode": "50000",
            "commune": "Saint-Lô",
            "goal_cents": 500000,
            "funding_model": "all_or_nothing",
            "duration_days": 40,
        },
        "rewards": [
            {"title": "L'album en numérique", "description": "", "min_amount_cents": 1000},
            {"title": "Le CD dédicacé", "description": "Signé par les jeunes musiciens", "min_amount_cents": 2500},
            {
                "title": "Concert de sortie",
                "description": "Une place au concert à Saint-Lô",
                "min_amount_cents": 5000,
                "quantity": 80,
            },
        ],
        "approved_days_ago": 33,
        "raised_cents": 167000,
        "pledges": 30,
        "news": [
            {
                "title": "Les premières prises au studio",
                "body": "Les jeunes ont enregistré trois chansons cette semaine. Merci de rendre cela possible !",
                "backers_only": False,
            },
            {
                "title": "Une maquette en avant-première",
                "body": "Pour vous seuls, contributeurs : la maquette de « Rythme » sera en écoute au concert.",
                "backers_only": True,
            },
        ],
    },
]

SUBMITTED = {
    "title": "Une épicerie solidaire à Cherbourg-en-Cotentin",
    "summary": "Des produits locaux à petits prix, tenus par une association de quartier.",
    "description": "L'association des Provinces ouvre une épicerie solidaire : la collecte équipe la chambre froide.",
    "category": "social",
    "postcode": "50100",
    "commune": "Cherbourg-en-Cotentin",
    "goal_cents": 800000,
    "funding_model": "keep_it_all",
    "duration_days": 30,
}


# The département's matching fund (chalicelib/matching.py): 1 € for 1 €, 50 € per pledge
# and 500 € per campaign at most, for culture and social projects.
DEMO_FUND = {
    "name": "Fonds d'abondement 2026",
    "decision_ref": "délibération CD-2026-045",
    "budget_cents": 5_000_000,
    "match_percent": 100,
    "cap_per_pledge_cents": 5_000,
    "cap_per_campaign_cents": 50_000,
    "categories": ["culture", "social"],
}


def _demo_fund(moderator: "Identity", now: datetime) -> "Fund":
    from chalicelib import matching
    from chalicelib.models.matching import FundCreate
    from chalicelib.settings import get_settings

    body = {**DEMO_FUND, "opens_at": now - timedelta(days=90), "closes_at": now + timedelta(days=275)}
    data = FundCreate.model_validate(body, context={"settings": get_settings()})
    return _at(now - timedelta(days=90), matching.create_fund, moderator, data)


def _match(campaign_id: str, fund: "Fund", moderator: "Identity", moment: datetime) -> None:
    from chalicelib import matching
    from chalicelib.models.matching import MatchingRequest

    _at(moment, matching.attach, campaign_id, moderator, MatchingRequest(fund_id=fund.id))


def _amounts(total: int, count: int, rng: random.Random) -> list[int]:
    """`count` amounts in whole 5 € steps (at least 10 €) adding up to `total` cents."""
    steps = total // 500
    cuts = sorted(rng.sample(range(1, steps - 1), count - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, steps], strict=True)]
    amounts = [max(p, 2) * 500 for p in parts]
    amounts[amounts.index(max(amounts))] -= sum(amounts) - total
    return amounts


Result = TypeVar("Result")


def _at(moment: datetime, action: Callable[..., Result], *args: Any) -> Result:
    """The action, done with the clock at `moment`."""
    from chalicelib import clock

    real = clock.now
    clock.now = lambda: moment.replace(microsecond=0)
    try:
        return action(*args)
    finally:
        clock.now = real


def _demo_payout_account(owner: Any, name: str, verified: bool) -> None:
    """The owner's payout account at the sandbox provider, verified on its page or not."""
    from chalicelib import owners, sandbox_pages
    from chalicelib.models.owners import BankAccountCreate, PayoutAccountCreate

    first, _, last = name.partition(" ")
    body = {
        "kind": "natural",
        "first_name": first,
        "last_name": last,
        "birthday": "1980-05-17",
        "nationality": "FR",
        "country_of_residence": "FR",
        "address": {"line1": "Place du Champ de Mars", "postcode": "50000", "city": "Saint-Lô", "country": "FR"},
    }
    account = owners.open_account(owner, PayoutAccountCreate.model_validate(body))
    if verified:
        sandbox_pages.complete_verification(account.verification_id, "verified")
        iban = {"iban": "FR7630006000011234567890189", "holder": name}
        owners.register_bank_account(owner, BankAccountCreate.model_validate(iban))


def seed() -> None:
    from chalicelib import campaigns, clock, finalisation, pledges, sandbox_pages, updates
    from chalicelib.identity import Identity
    from chalicelib.models.campaigns import CampaignCreate, RewardCreate
    from chalicelib.models.pledges import PledgeCreate
    from chalicelib.models.updates import NewsCreate
    from chalicelib.settings import get_settings

    context = {"settings": get_settings()}
    moderator = Identity("moderatrice-manche", "claire@manche.fr", "Claire Moderatrice", frozenset({"moderators"}))
    now = clock.now()
    rng = random.Random(50)
    fund = _demo_fund(moderator, now)
    for spec in CAMPAIGNS:
        sub, name = spec["owner"]
        owner = Identity(sub, f"{sub}@exemple.fr", name)
        start = now - timedelta(days=spec["approved_days_ago"])
        campaign = _at(
            start - timedelta(days=3),
            campaigns.create,
            owner,
            CampaignCreate.model_validate(spec["fields"], context=context),
        )
        for reward in spec["rewards"]:
            _at(
                start - timedelta(days=3),
                campaigns.add_reward,
                campaign.id,
                owner,
                RewardCreate.model_validate(reward, context=context),
            )
        _at(start - timedelta(days=2), campaigns.submit, campaign.id, owner)
        _at(start - timedelta(days=1), _demo_payout_account, owner, name, spec["owner"][0] != "gregory-jamard")
        live = _at(start, campaigns.approve, campaign.id, moderator)
        assert live.ends_at is not None  # approved
        running = min(now, clock.parse(live.ends_at)) - start
        rewards = sorted(live.rewards, key=lambda r: -r.min_amount_cents)
        stock = {r.id: r.remaining for r in rewards if r.remaining is not None}
        for n, amount in enumerate(_amounts(spec["raised_cents"], spec["pledges"], rng)):
            contributor = CONTRIBUTORS[n % len(CONTRIBUTORS)]
            who = Identity(f"demo-{n}", f"contributeur{n}@exemple.fr", contributor)
            moment = start + running * (n + 1) / (spec["pledges"] + 1)
            chosen = next(
                (r for r in rewards if r.min_amount_cents <= amount and stock.get(r.id, 1) > 0 and rng.random() < 0.7),
                None,
            )
            if chosen and chosen.id in stock:
                stock[chosen.id] -= 1
            body = PledgeCreate.model_validate(
                {
                    "amount_cents": amount,
                    "reward_id": chosen.id if chosen else None,
                    "anonymous": n % 7 == 3,
                    "message": "Bravo et bonne chance !" if n % 5 == 0 else None,
                },
                context=context,
            )
            made, _ = _at(moment, pledges.pledge, campaign.id, who, str(uuid.uuid4()), body)
            # Paid on the sandbox's hosted page a minute later, as the contributor's browser would.
            payment_id = made["payment"]["redirect_url"].rsplit("/", 1)[-1]
            _at(moment + timedelta(minutes=1), sandbox_pages.complete, payment_id, "succeeded")
        for n, news in enumerate(spec.get("news", ())):
            post = NewsCreate.model_validate(news, context=context)
            _at(start + running * (n + 1) / 3, updates.post, campaign.id, owner, post)
        print(f"  {live.title}: {spec['raised_cents'] // 100} € de {spec['pledges']} contributions")
    submitted_owner = Identity("asso-provinces", "contact@provinces.example", "Association des Provinces")
    draft = campaigns.create(submitted_owner, CampaignCreate.model_validate(SUBMITTED, context=context))
    campaigns.submit(draft.id, submitted_owner)
    # The fund tops up the grocery's pledges once approved; the three Saint-Lô campaigns
    # keep their historical crowd-only totals.
    _match(draft.id, fund, moderator, now)
    report = finalisation.run(now)
    print(f"  closed at their deadline and settled: {len(report['closed'])} campaign(s)")


def main() -> None:
    use_stage("local")
    print("demo data:")
    seed()


if __name__ == "__main__":
    main()
