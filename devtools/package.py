"""`make package STAGE=…` and `make deploy STAGE=…`: one CloudFormation stack per stage.

    python -m devtools.package package --stage dev          # dist/dev/sam.yaml + deployment.zip
    python -m devtools.package deploy --stage dev --artifacts-bucket B [--parameter-overrides K=V …]
    python -m devtools.package measure --stage dev          # zip size, cold import time

`package` runs `chalice package --stage X --merge-template infra/template.yaml dist/X/`
(needs only the package registry, for the Lambda dependencies), then finishes the merged
template, because the merge is a plain deep merge of two documents that know nothing of
each other:

- Transform: infra/ declares AWS::LanguageExtensions, which replaced Chalice's SAM
  transform in the merge; both are listed, LanguageExtensions first.
- Parameters: Stage defaults to X and Emulated to "false", so a deploy needs neither.
  (Not pinned with AllowedValues: cfn-lint would then flag the other stages' branches
  of every Fn::If as unreachable.)
- Functions read the stack's resources: the variables of the template's
  Metadata.OzeFunctionEnvironment (Ref Table, Ref UserPool…) are set on every function,
  over the placeholders of .chalice/config.json.
- Roles: .chalice/policy-X.json names resources with ${AWS::Region}/${AWS::AccountId};
  those strings become Fn::Sub, so each ARN is exact.
- Chalice names the API handler's log group after `ApiHandler` but the function after
  `APIHandler` (aws/chalice issue 2079: CloudFormation would reject the template); the
  log group is pointed at the function that exists.
- SQS triggers name their queue by ARN text; they are pointed at the template's queue
  (GetAtt), so that the queue exists before its trigger. The table's stream trigger (the
  `figures` function) names a placeholder ARN: it is pointed at the table's stream.
- Alarms: errors and throttles for each function, 5XX for the API (named oze-X so that
  its metrics are the stage's own), to the template's AlarmTopic.

`deploy` runs the AWS CLI (v2, a prerequisite not installed by the Makefile): `aws
cloudformation package` uploads the zip to the artifacts bucket, `aws cloudformation
deploy` creates or updates stack oze-X through a change set.
"""

import argparse
import compileall
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
DIST = ROOT / "dist"
STAGES = ("dev", "staging", "prod")
ENVIRONMENT_KEY = "OzeFunctionEnvironment"
TRANSFORMS = ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
FUNCTION = "AWS::Serverless::Function"
API_STAGE = "api"
# Region for `chalice package` when none is configured: it only picks the partition.
DEFAULT_REGION = "eu-west-3"


# --- templates as data -------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !If…) read as their long form."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"!{tag_suffix} on a {type(node).__name__}", node.start_mark
        )
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases: CloudFormation does not read them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def load_template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 (a SafeLoader)
    return template


def dump_template(template: dict[str, Any]) -> str:
    return yaml.dump(template, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=100)


# --- finishing the merged template ---------------------------------------------------------


def _functions(template: dict[str, Any]) -> list[str]:
    return sorted(name for name, r in template["Resources"].items() if r["Type"] == FUNCTION)


def _substitute(value: Any) -> Any:
    """Strings that name ${…} become Fn::Sub (IAM's own ${aws:…} variables are not used)."""
    if isinstance(value, str) and "${" in value:
        return {"Fn::Sub": value}
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    return value


def _alarm(
    stage_function: str, description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Condition": "Hosted",
        "Properties": {
            "AlarmName": {"Fn::Sub": f"oze-${{Stage}}-{stage_function}"},
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
        },
    }


def _add_alarms(resources: dict[str, Any], functions: list[str], stage: str) -> None:
    for name in functions:
        dimensions = [{"Name": "FunctionName", "Value": {"Ref": name}}]
        resources[f"{name}ErrorsAlarm"] = _alarm(
            f"{name}-errors",
            f"{name} failed: unhandled exception, timeout or crash (see its log group).",
            "AWS/Lambda",
            "Errors",
            dimensions,
        )
        resources[f"{name}ThrottlesAlarm"] = _alarm(
            f"{name}-throttles",
            f"{name} was throttled: account or reserved concurrency reached.",
            "AWS/Lambda",
            "Throttles",
            dimensions,
        )
    if "RestAPI" in resources:
        resources["ApiServerErrorsAlarm"] = _alarm(
            "api-5xx",
            "The API answered 5XX: an unexpected error in a handler, or API Gateway itself.",
            "AWS/ApiGateway",
            "5XXError",
            [{"Name": "ApiName", "Value": f"oze-{stage}"}, {"Name": "Stage", "Value": API_STAGE}],
        )


def _point_triggers_at_queues(resources: dict[str, Any], stage: str) -> None:
    """Chalice names an SQS trigger's queue by the text of its ARN; point it at the
    template's queue (GetAtt), so that CloudFormation creates the queue first."""
    queues = {}
    for name, resource in resources.items():
        if resource["Type"] == "AWS::SQS::Queue":
            queue_name = resource["Properties"].get("QueueName", "")
            if isinstance(queue_name, dict):
                queue_name = queue_name.get("Fn::Sub", "").replace("${Stage}", stage)
            queues[queue_name] = name
    for name in _functions({"Resources": resources}):
        for event in resources[name]["Properties"].get("Events", {}).values():
            arn = event["Properties"].get("Queue") if event["Type"] == "SQS" else None
            text = arn.get("Fn::Sub", "") if isinstance(arn, dict) else str(arn or "")
            queue = queues.get(text.rsplit(":", 1)[-1])
            if queue:
                event["Properties"]["Queue"] = {"Fn::GetAtt": [queue, "Arn"]}


def _point_triggers_at_table_stream(resources: dict[str, Any]) -> None:
    """A stream's ARN exists only once its table does: DynamoDB triggers read the table's."""
    for name in _functions({"Resources": resources}):
        for event in resources[name]["Properties"].get("Events", {}).values():
            if event["Type"] == "DynamoDB":
                event["Properties"]["Stream"] = {"Fn::GetAtt": ["Table", "StreamArn"]}


def finish(template: dict[str, Any], stage: str) -> dict[str, Any]:
    """The merged template of `stage`, made deployable (see the module's docstring)."""
    resources = template["Resources"]
    template["Transform"] = list(TRANSFORMS)
    parameters = template["Parameters"]
    parameters["Stage"]["Default"] = stage
    parameters["Emulated"]["Default"] = "false"

    metadata = template.get("Metadata", {})
    environment = metadata.pop(ENVIRONMENT_KEY, {})
    if not metadata:
        template.pop("Metadata", None)
    functions = _functions(template)
    # A stage's own web origins (.chalice/config.json) are its WebOrigins by default.
    configured = {
        resources[name]["Properties"].get("Environment", {}).get("Variables", {}).get("ALLOWED_ORIGINS")
        for name in functions
    } - {None}
    if configured and "WebOrigins" in parameters:
        parameters["WebOrigins"]["Default"] = configured.pop()
    for name in functions:
        properties = resources[name]["Properties"]
        properties.setdefault("Environment", {}).setdefault("Variables", {}).update(environment)

    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                policy["PolicyDocument"] = _substitute(policy["PolicyDocument"])
        if resource["Type"] == "AWS::Logs::LogGroup":
            name = resource["Properties"]["LogGroupName"]
            if name == {"Fn::Sub": "/aws/lambda/${ApiHandler}"} and "APIHandler" in resources:
                resource["Properties"]["LogGroupName"] = {"Fn::Sub": "/aws/lambda/${APIHandler}"}

    if "RestAPI" in resources:
        resources["RestAPI"]["Properties"]["DefinitionBody"]["info"]["title"] = f"oze-{stage}"
    _point_triggers_at_queues(resources, stage)
    _point_triggers_at_table_stream(resources)
    _add_alarms(resources, functions, stage)
    return template


# --- commands --------------------------------------------------------------------------


def _chalice() -> str:
    return str(Path(sys.executable).parent / "chalice")


def package(stage: str, out: Path | None = None) -> Path:
    """Package `stage` into `out` (default dist/<stage>/); answer the template's path."""
    out = Path(out or DIST / stage)
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", DEFAULT_REGION))
    subprocess.run(
        [_chalice(), "package", "--stage", stage, "--merge-template", str(TEMPLATE), str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    finish_zip(out / "deployment.zip")
    path = out / "sam.yaml"
    path.write_text(dump_template(finish(yaml.safe_load(path.read_text(encoding="utf-8")), stage)), encoding="utf-8")
    return path


# Parts of the Lambda dependencies the code never imports, left out of the zip (size goal in
# the README). Powertools ships every utility; we use its logger and metrics
# (chalicelib/observability.py) and its parameters (the Mangopay credentials). pydantic ships
# its version 1 beside version 2. The Mangopay SDK uses pytz only for pytz.utc, which needs no
# zone file. pip's RECORD lists are for uninstalling. tests/system/test_infra.py runs the
# packaged app's lazily imported parts to catch a needed part left out.
UNUSED = (
    "aws_lambda_powertools/event_handler",
    "aws_lambda_powertools/utilities/*/",
    "pydantic/v1",
    "pytz/zoneinfo",
    "*.dist-info/RECORD",
)
# jmespath_utils: imported by the logger; parameters: the Mangopay credentials (chalicelib/adapters/mangopay.py).
USED_BESIDE_UNUSED = ("aws_lambda_powertools/utilities/jmespath_utils", "aws_lambda_powertools/utilities/parameters")
CONFIG = ROOT / ".chalice" / "config.json"


def kept_zones() -> set[str]:
    """The time zones the code reads: UTC and every TIMEZONE of .chalice/config.json."""
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    scopes = [config, *config.get("stages", {}).values()]
    return {"UTC"} | {scope["environment_variables"]["TIMEZONE"] for scope in scopes
                      if "TIMEZONE" in scope.get("environment_variables", {})}  # fmt: skip


def _unused_zones(directory: Path) -> list[Path]:
    """tzdata's zone files but the kept ones, and its table of country codes (owners'
    countries: chalicelib/models/owners.py). Its package markers stay: zoneinfo finds a
    zone as a resource of its package."""
    zones = directory / "tzdata" / "zoneinfo"
    kept = kept_zones() | {"iso3166.tab"}
    files = [path for path in zones.rglob("*") if path.is_file() and path.name != "__init__.py"]
    return [path for path in files if path.relative_to(zones).as_posix() not in kept]


def _unused(directory: Path) -> list[Path]:
    found = [path for pattern in UNUSED for path in directory.glob(pattern)]
    used = [path for path in found if path.relative_to(directory).as_posix() not in USED_BESIDE_UNUSED]
    return used + _unused_zones(directory)


def finish_zip(zip_path: Path) -> None:
    """Leave out what is never imported, and ship compiled bytecode: Lambda's file system
    is read-only, so without .pyc files every cold start compiles pydantic, chalice and our
    code again (about 40 % of the package's import time, measured). Unchecked hashes,
    because unzipping changes mtimes; this interpreter is the Lambda runtime's version
    (chalice packages for the version it runs on)."""
    with tempfile.TemporaryDirectory() as directory:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(directory)
        for path in _unused(Path(directory)):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        compileall.compile_dir(
            directory, quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for file in sorted(Path(directory).rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(directory))


def _version() -> str:
    try:
        answer = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return "unknown"
    return answer.stdout.strip() or "unknown"


def deploy_commands(stage: str, artifacts_bucket: str, overrides: list[str], version: str) -> list[list[str]]:
    """The AWS CLI calls that deploy dist/<stage>/ as stack oze-<stage>."""
    out = DIST / stage
    packaged = out / "packaged.yaml"
    stack = f"oze-{stage}"
    deploy = [
        "aws", "cloudformation", "deploy",
        "--template-file", str(packaged),
        "--stack-name", stack,
        # IAM: the functions' roles; AUTO_EXPAND: the LanguageExtensions and SAM transforms.
        "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
        "--no-fail-on-empty-changeset",
        "--tags", "app=oze", f"stage={stage}", f"version={version}",
    ]  # fmt: skip
    if overrides:
        deploy += ["--parameter-overrides", *overrides]
    return [
        [
            "aws", "cloudformation", "package",
            "--template-file", str(out / "sam.yaml"),
            "--s3-bucket", artifacts_bucket,
            "--s3-prefix", stack,
            "--output-template-file", str(packaged),
        ],
        deploy,
        ["aws", "cloudformation", "describe-stacks", "--stack-name", stack, "--query", "Stacks[0].Outputs"],
    ]  # fmt: skip


def deploy(stage: str, artifacts_bucket: str, overrides: list[str], dry_run: bool = False) -> None:
    if not artifacts_bucket:
        raise SystemExit("ARTIFACTS_BUCKET: name the S3 bucket that receives the Lambda zip (README, Operations)")
    if shutil.which("aws") is None and not dry_run:
        raise SystemExit("make deploy needs the AWS CLI v2 (`aws`) on PATH, with credentials for the account")
    commands = deploy_commands(stage, artifacts_bucket, overrides, _version())
    if dry_run:
        for command in commands:
            print(" ".join(command))
        return
    if not (DIST / stage / "sam.yaml").exists():
        raise SystemExit(f"dist/{stage}/sam.yaml is missing: run make package STAGE={stage} first")
    for command in commands:
        subprocess.run(command, cwd=ROOT, check=True)


def cold_import_seconds(zip_path: Path, stage: str, runs: int = 5) -> float:
    """Median time of `import app` from the unzipped package, each in a fresh interpreter
    (boto3 comes from this interpreter, as the Lambda runtime provides it)."""
    env = {
        **os.environ,
        "STAGE": stage,
        "TABLE_NAME": f"oze-{stage}",
        "AWS_REGION": DEFAULT_REGION,
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }
    env.pop("DEV_JWT_SECRET", None)
    code = (
        "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t);"
        # the parts imported on first call, to catch a needed part left out of the zip
        "from chalicelib import observability; observability.tools();"
        "from chalicelib.adapters import mangopay_client; mangopay_client._sdk(); import pytz; pytz.utc;"
        "from datetime import datetime, UTC; from chalicelib import clock, settings;"
        "clock.end_of_local_day(datetime.now(UTC), 1, settings.get_settings().timezone);"
        "from chalicelib.models import owners; assert 'FR' in owners.countries()"
    )
    with tempfile.TemporaryDirectory() as directory:
        zipfile.ZipFile(zip_path).extractall(directory)
        times = [
            float(subprocess.run([sys.executable, "-c", code], cwd=directory, env=env, capture_output=True, text=True,
                                 check=True).stdout.split()[0])
            for _ in range(runs)
        ]  # fmt: skip
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("package", "deploy", "measure"):
        command = commands.add_parser(name)
        command.add_argument("--stage", required=True, choices=STAGES)
        if name == "deploy":
            command.add_argument("--artifacts-bucket", required=True, help="an S3 bucket for the Lambda zip")
            command.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE")
            command.add_argument("--dry-run", action="store_true", help="print the AWS CLI calls only")
    args = parser.parse_args()
    if args.command == "package":
        path = package(args.stage)
        size = (path.parent / "deployment.zip").stat().st_size
        print(f"{path.relative_to(ROOT)} and deployment.zip ({size / 1e6:.2f} MB)")
    elif args.command == "deploy":
        deploy(args.stage, args.artifacts_bucket, args.parameter_overrides, args.dry_run)
    else:
        zip_path = DIST / args.stage / "deployment.zip"
        if not zip_path.exists():
            package(args.stage)
        print(f"deployment.zip: {zip_path.stat().st_size / 1e6:.2f} MB")
        seconds = cold_import_seconds(zip_path, args.stage)
        print(f"cold import of the packaged app: {seconds * 1000:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
