"""Request and answer shapes: the single source of validation and of the OpenAPI document.

One module per area, named after the domain module it serves (models/campaigns.py for
chalicelib/campaigns.py, ...), and models/base.py for what they share. Each field's type is
defined once, for the create model and the partial update alike; rules whose terms a stage
configures (goal, duration, categories, territory…) are `StageRule`s attached to those types,
which read the stage's Settings from the validation context and state its terms in the
OpenAPI document. Lists answer a generic `Page[Item]` (named ItemPage).

Routes name their models as "area.Name" (`Api.route(body="campaigns.CampaignCreate")`), and
`load` imports an area on its first use: creating the pydantic classes of every area was
more than half of what importing the app added to a bare Chalice app (make bench), and a
request needs only its own area's.
"""

import importlib
from functools import cache

from pydantic import BaseModel


@cache
def load(ref: str) -> type[BaseModel]:
    """The model named "area.Name": class Name of chalicelib/models/<area>.py."""
    area, _, name = ref.partition(".")
    model = getattr(importlib.import_module(f"{__name__}.{area}"), name, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise LookupError(f"no model {ref!r} in {__name__}")
    return model
