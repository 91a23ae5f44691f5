"""Create a stage's resources from infra/template.yaml through the CloudFormation API.

Used against the emulator by `make run` and by the tests, so that local resources are
exactly those that deploy to AWS.

    python -m devtools.provision --stage local
"""

import argparse
import os
from pathlib import Path

import boto3

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "template.yaml"


def provision(stage: str) -> dict[str, str]:
    """Deploy the template as stack oze-<stage>; answer its outputs."""
    cloudformation = boto3.client("cloudformation")
    name = f"oze-{stage}"
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        # Emulated: skip what moto's CloudFormation cannot create (see the template).
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": stage},
            {"ParameterKey": "Emulated", "ParameterValue": "true"},
        ],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    # The template's SES identity is for hosted stages; the emulator wants it verified by API.
    if os.environ.get("SENDER_EMAIL"):
        boto3.client("ses").verify_email_identity(EmailAddress=os.environ["SENDER_EMAIL"])
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="local")
    for key, value in provision(parser.parse_args().stage).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
