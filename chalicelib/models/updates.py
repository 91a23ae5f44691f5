"""Campaign news and their e-mails' unsubscribe link (chalicelib/updates.py)."""

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool

from .base import Answer, Model, Page, Text


class NewsCreate(Model):
    title: Annotated[Text, Field(min_length=3, max_length=150)]
    body: Annotated[Text, Field(min_length=1, max_length=10000)]
    backers_only: StrictBool = Field(False, description="visible only to the owner, moderators and contributors")


class News(Answer):
    id: str
    campaign_id: str
    title: str
    body: str
    backers_only: bool
    created_at: datetime


NewsPage = Page[News]


class UnsubscribeQuery(Model):
    token: Annotated[str, Field(min_length=1, max_length=500)]
