"""A stage's environment variables as .chalice/config.json defines them, for the tools
that run outside Chalice (seed, finalise, token) against the local stack."""

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"


def stage_variables(stage: str = "local") -> dict[str, str]:
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    return {**config["environment_variables"], **config["stages"][stage]["environment_variables"]}


def use_stage(stage: str = "local") -> None:
    """Set the stage's variables in this process, as Lambda would (the emulator's address
    from AWS_ENDPOINT_URL if the caller set it)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    os.environ.update(stage_variables(stage))
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
