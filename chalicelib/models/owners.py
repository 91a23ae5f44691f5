"""Owners' payout accounts (chalicelib/owners.py): what an owner tells the payment provider,
their bank account, and the account as the platform shows it to them."""

import functools
import re
from datetime import date, datetime
from importlib import resources
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from .. import clock
from .base import Answer, Model, PlainText, ReturnUrl, Text

Name = Annotated[Text, Field(min_length=1, max_length=100)]
RNA_PATTERN = r"^W[0-9]{9}$"
# SEPA countries' IBAN lengths (the provider pays out by SEPA transfer).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip


@functools.cache
def countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes, from the tz database's own table (tzdata, already shipped)."""
    table = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    return frozenset(line.split("\t")[0] for line in table.splitlines() if line and not line.startswith("#"))


def _country(code: str) -> str:
    if code not in countries():
        raise ValueError("must be an ISO 3166 alpha-2 country code, such as FR")
    return code


def _adult(birthday: date) -> date:
    today = clock.now().date()
    if not date(1900, 1, 1) <= birthday <= today.replace(year=today.year - 18):
        raise ValueError("an owner must be an adult (at least 18 years old)")
    return birthday


def _luhn(digits: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(digits)):
        n = int(digit) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _siren(value: str) -> str:
    # La Poste's SIRENs (356 000 000) follow their own rule, not Luhn's (INSEE).
    if not re.fullmatch(r"[0-9]{9}", value) or not (_luhn(value) or value == "356000000"):
        raise ValueError("must be a SIREN: 9 digits with a valid check digit")
    return value


def _compact(value: object) -> object:
    return re.sub(r"\s", "", value).upper() if isinstance(value, str) else value


def _iban(value: str) -> str:
    """An IBAN of a SEPA country, its check digits right (ISO 13616: mod 97 = 1)."""
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+", value) or len(value) != IBAN_LENGTHS.get(value[:2]):
        raise ValueError("must be the IBAN of an account in a SEPA country")
    if int("".join(str(int(c, 36)) for c in value[4:] + value[:4])) % 97 != 1:
        raise ValueError("this IBAN's check digits are wrong: a typing mistake?")
    return value


Country = Annotated[str, Field(min_length=2, max_length=2, examples=["FR"]), AfterValidator(_country)]
Siren = Annotated[str, BeforeValidator(_compact), Field(max_length=9, examples=["732829320"]), AfterValidator(_siren)]
IBAN_EXAMPLE = "FR7630006000011234567890189"
Iban = Annotated[str, BeforeValidator(_compact), Field(max_length=34, examples=[IBAN_EXAMPLE]), AfterValidator(_iban)]


class Address(Model):
    line1: Annotated[Text, Field(max_length=200)]
    line2: Annotated[PlainText, Field(max_length=200)] | None = None
    postcode: Annotated[Text, Field(max_length=10)]
    city: Name
    country: Country


class PayoutAccountCreate(Model):
    """Who receives a succeeded campaign's money: sent to the payment provider, which
    verifies the person's identity on its page. For a legal entity, the person is its
    representative: `legal_name` and `legal_form`, an association's `rna` and/or `siren`, a
    business's `siren` (checked by chalicelib/owners.py, which names the field at fault)."""

    kind: Literal["natural", "legal"]
    first_name: Name
    last_name: Name
    birthday: Annotated[date, AfterValidator(_adult), Field(description="YYYY-MM-DD")]
    nationality: Country
    country_of_residence: Country
    address: Address
    return_url: ReturnUrl | None = Field(
        None, description="where the provider's verification page sends the browser back (an allowed web origin)"
    )
    legal_name: Annotated[Text, Field(max_length=200)] | None = None
    legal_form: Literal["association", "business", "other"] | None = None
    rna: Annotated[str, BeforeValidator(_compact), Field(pattern=RNA_PATTERN, examples=["W502004567"])] | None = None
    siren: Siren | None = None


class BankAccountCreate(Model):
    iban: Iban
    holder: Name
    return_url: ReturnUrl | None = Field(
        None, description="where the provider's confirmation page (if it asks for one) sends the browser back"
    )


class BankAccountShown(Answer):
    last4: str = Field(description="the IBAN's last 4 characters: the platform keeps no more")
    status: Literal["pending", "active", "refused"] = Field(
        description="pending: the owner confirms it on the provider's page (confirmation_url)"
    )
    confirmation_url: str | None = None


class PayoutAccount(Answer):
    kind: Literal["natural", "legal"]
    name: str = Field(description="the person's name, or the legal entity's")
    status: Literal["verification_pending", "verified", "refused"]
    verification_url: str = Field(description="the provider's page where the owner proves their identity")
    refusal_reason: str | None = None
    legal_form: Literal["association", "business", "other"] | None = None
    rna: str | None = None
    siren: str | None = None
    bank_account: BankAccountShown | None = None
    created_at: datetime
    updated_at: datetime
