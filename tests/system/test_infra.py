"""Stages, infrastructure and privileges: what IT deploys is linted, deploys into the
emulator, is packaged per stage, and grants the functions exactly what the code calls."""

import json
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from cfnlint.api import lint

from chalicelib.identity import MODERATORS_GROUP
from devtools import package as packaging
from devtools.provision import provision
from tests import aws_calls

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
HOSTED = packaging.STAGES
REGION = "eu-west-3"
# 5 MiB until the escrow provider's SDK (with requests, urllib3, idna, certifi, simplejson,
# pytz, six and blinker) joined the package: 6 MiB since (README, Lambda package).
MAX_ZIP_BYTES = 6 * 1024 * 1024
# Conditions under which a resource exists only in hosted stacks (not in the emulator).
HOSTED_ONLY = {"Hosted", "HasSender", "HasAlarmEmail"}
# What the Lambda service does with a function's role on its behalf, by trigger.
LOG_ACTIONS = {("logs:CreateLogStream", "log-group"), ("logs:PutLogEvents", "log-group")}
SQS_POLLER_ACTIONS = {(f"sqs:{a}", "queue") for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")}
STREAM_POLLER_ACTIONS = {
    (f"dynamodb:{a}", "stream") for a in ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")
}


def _lint(text: str) -> list[str]:
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint(text, regions=[REGION])]


def _stage_config(stage: str) -> dict:
    return CONFIG["stages"][stage]


def _policy(stage: str) -> dict:
    return json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def packaged(tmp_path_factory):
    """Each hosted stage packaged once for the session: {stage: (template, directory)}."""
    result = {}
    for stage in HOSTED:
        path = packaging.package(stage, tmp_path_factory.mktemp(stage) / "out")
        result[stage] = (yaml.safe_load(path.read_text(encoding="utf-8")), path.parent)
    return result


def _condition(template: dict, name: str, parameters: dict) -> bool:
    def evaluate(expression):
        if isinstance(expression, dict):
            (function, argument), *_ = expression.items()
            if function == "Ref":
                return parameters[argument]
            if function == "Condition":
                return _condition(template, argument, parameters)
            if function == "Fn::Equals":
                return evaluate(argument[0]) == evaluate(argument[1])
            if function == "Fn::Not":
                return not evaluate(argument[0])
            if function == "Fn::And":
                return all(evaluate(a) for a in argument)
            if function == "Fn::Or":
                return any(evaluate(a) for a in argument)
            raise AssertionError(f"cannot evaluate {expression}")
        return expression

    return evaluate(template["Conditions"][name])


def _resolve(template: dict, value, stage: str):
    """A property's value in the stack of `stage` (Fn::If resolved, other functions kept)."""
    parameters = {"Stage": stage, "Emulated": "false", "SenderEmail": "", "AlarmEmail": ""}
    if isinstance(value, dict) and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        return _resolve(template, when_true if _condition(template, name, parameters) else when_false, stage)
    return value


# --- the template in infra/ ------------------------------------------------------------------


def test_infra_template_passes_cfn_lint():
    assert _lint((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8")) == []


def test_infra_template_deploys_into_the_emulator_with_every_resource_the_code_uses():
    """moto creates every resource that is not hosted-only; a type it cannot create
    (it would warn and skip it) fails here instead of vanishing from local runs."""
    from moto import mock_aws

    template = packaging.load_template(packaging.TEMPLATE)
    expected = {name for name, r in template["Resources"].items() if r.get("Condition") not in HOSTED_ONLY}
    with warnings.catch_warnings(), mock_aws():
        warnings.filterwarnings("error", message=".*not supported by moto's CloudFormation")
        outputs = provision("emulated")
        resources = boto3.client("cloudformation").describe_stack_resources(StackName="oze-emulated")
        table = boto3.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]
        account = boto3.client("sts").get_caller_identity()["Account"]
    # (moto also lists the resources that a condition left out, with no id)
    assert {r["LogicalResourceId"] for r in resources["StackResources"] if r.get("LogicalResourceId")} == expected
    declared = {i["IndexName"] for i in template["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"]}
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == declared
    assert outputs["MediaBucketName"] == f"oze-emulated-media-{account}"


def test_moderators_group_is_the_one_the_code_checks():
    template = packaging.load_template(packaging.TEMPLATE)
    assert template["Resources"]["ModeratorsGroup"]["Properties"]["GroupName"] == MODERATORS_GROUP


# --- stages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", HOSTED)
def test_hosted_stage_config_uses_its_reviewed_policy_and_no_dev_secret(stage):
    config = _stage_config(stage)
    environment = {**CONFIG["environment_variables"], **config["environment_variables"]}
    assert config["autogen_policy"] is False
    assert config["iam_policy_file"] == f"policy-{stage}.json"
    assert (ROOT / ".chalice" / config["iam_policy_file"]).exists()
    assert environment["STAGE"] == stage
    assert "DEV_JWT_SECRET" not in environment
    assert config["log_retention_in_days"] > 0 and config["lambda_memory_size"] >= 128


@pytest.mark.parametrize("stage", HOSTED)
def test_packaged_template_passes_cfn_lint(packaged, stage):
    template, directory = packaged[stage]
    assert _lint((directory / "sam.yaml").read_text(encoding="utf-8")) == []
    assert template["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    assert template["Parameters"]["Stage"]["Default"] == stage


@pytest.mark.parametrize("stage", HOSTED)
def test_packaged_functions_read_this_stacks_resources_with_the_stage_policy(packaged, stage):
    template, _ = packaged[stage]
    resources = template["Resources"]
    wired = packaging.load_template(packaging.TEMPLATE)["Metadata"][packaging.ENVIRONMENT_KEY]
    functions = [name for name, r in resources.items() if r["Type"] == packaging.FUNCTION]
    assert "APIHandler" in functions
    for name in functions:
        properties = resources[name]["Properties"]
        variables = properties["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == {"Ref": "Table"}
        assert variables["MEDIA_BUCKET"] == {"Ref": "MediaBucket"}
        assert _resolve(template, variables["COGNITO_USER_POOL_ID"], stage) == {"Ref": "UserPool"}
        assert _resolve(template, variables["COGNITO_APP_CLIENT_ID"], stage) == {"Ref": "UserPoolClient"}
        assert {k: variables[k] for k in wired} == wired
        assert variables["STAGE"] == stage and "DEV_JWT_SECRET" not in variables
        assert properties["MemorySize"] == _stage_config(stage)["lambda_memory_size"]
        for event in properties.get("Events", {}).values():
            if event["Type"] == "SQS":
                queue, attribute = event["Properties"]["Queue"]["Fn::GetAtt"]
                assert resources[queue]["Type"] == "AWS::SQS::Queue" and attribute == "Arn"
        role = resources[properties["Role"]["Fn::GetAtt"][0]]
        (policy,) = role["Properties"]["Policies"]
        assert policy["PolicyDocument"] == packaging._substitute(_policy(stage))


@pytest.mark.parametrize("stage", HOSTED)
def test_prod_keeps_its_data_and_other_stages_can_be_torn_down(packaged, stage):
    template, _ = packaged[stage]
    resources = template["Resources"]
    kept = "Retain" if stage == "prod" else "Delete"
    for name in ("Table", "UserPool", "MediaBucket"):
        assert _resolve(template, resources[name]["DeletionPolicy"], stage) == kept, name
        assert _resolve(template, resources[name]["UpdateReplacePolicy"], stage) == kept, name
    table = resources["Table"]["Properties"]
    assert _resolve(template, table["DeletionProtectionEnabled"], stage) is (stage == "prod")
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    pool = resources["UserPool"]["Properties"]
    assert _resolve(template, pool["DeletionProtection"], stage) == ("ACTIVE" if stage == "prod" else "INACTIVE")
    bucket = resources["MediaBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    versioning = _resolve(template, bucket.get("VersioningConfiguration"), stage)
    assert (versioning == {"Status": "Enabled"}) is (stage == "prod")
    (tls_only,) = resources["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls_only["Effect"] == "Deny" and tls_only["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stage", HOSTED)
def test_every_function_has_its_logs_kept_and_its_alarms(packaged, stage):
    template, _ = packaged[stage]
    resources = template["Resources"]
    functions = [name for name, r in resources.items() if r["Type"] == packaging.FUNCTION]
    log_groups = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    logged = {group["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/${").rstrip("}") for group in log_groups}
    assert logged == set(functions)
    assert {group["RetentionInDays"] for group in log_groups} == {_stage_config(stage)["log_retention_in_days"]}
    for name in functions:
        for metric in ("Errors", "Throttles"):
            alarm = resources[f"{name}{metric}Alarm"]["Properties"]
            assert alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
            assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    api_alarm = resources["ApiServerErrorsAlarm"]["Properties"]
    api_name = resources["RestAPI"]["Properties"]["DefinitionBody"]["info"]["title"]
    assert {"Name": "ApiName", "Value": api_name} in api_alarm["Dimensions"] and api_name == f"oze-{stage}"


@pytest.mark.parametrize("stage", HOSTED)
def test_scheduled_functions_run_one_at_a_time(packaged, stage):
    template, _ = packaged[stage]
    scheduled = {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == packaging.FUNCTION
        and any(e["Type"] == "Schedule" for e in r["Properties"].get("Events", {}).values())
    }
    if not scheduled:
        pytest.skip("no scheduled function in app.py yet")
    for name, properties in scheduled.items():
        assert properties.get("ReservedConcurrentExecutions", 0) >= 1, f"{name}: set reserved_concurrency"


@pytest.mark.parametrize("stage", HOSTED)
def test_deployment_package_is_small_and_leaves_boto3_to_the_runtime(packaged, stage):
    _, directory = packaged[stage]
    archive = directory / "deployment.zip"
    names = zipfile.ZipFile(archive).namelist()
    assert archive.stat().st_size <= MAX_ZIP_BYTES
    assert "app.py" in names and "chalicelib/settings.py" in names and any(n.startswith("pydantic/") for n in names)
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "moto/"))]


def test_packaged_app_imports_and_logs_with_what_the_zip_keeps(packaged):
    """The zip leaves unused parts of its dependencies out and ships bytecode: the app
    still starts, and so do its logger and metrics (imported on the first call)."""
    _, directory = packaged["dev"]
    names = zipfile.ZipFile(directory / "deployment.zip").namelist()
    assert "chalicelib/storage/__pycache__/dynamo.cpython-311.pyc" in names
    assert not [n for n in names if n.startswith(("aws_lambda_powertools/event_handler/", "pydantic/v1/"))]
    assert "tzdata/zoneinfo/Europe/Paris" in names and "tzdata/zoneinfo/Europe/Berlin" not in names
    assert "tzdata/zoneinfo/iso3166.tab" in names
    assert "mangopay/api.py" in names and "requests/__init__.py" in names
    assert packaging.cold_import_seconds(directory / "deployment.zip", "dev", runs=1) > 0


def test_packaged_app_refuses_to_start_with_a_dev_secret_outside_local(packaged, tmp_path):
    _, directory = packaged["dev"]
    zipfile.ZipFile(directory / "deployment.zip").extractall(tmp_path)
    env = {**os.environ, "STAGE": "dev", "TABLE_NAME": "oze-dev", "AWS_REGION": REGION}
    env.pop("DEV_JWT_SECRET", None)

    def start(extra):
        return subprocess.run(
            [sys.executable, "-c", "import app"], cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True
        )

    assert start({}).returncode == 0
    refused = start({"DEV_JWT_SECRET": "a-leaked-local-secret"})
    assert refused.returncode != 0
    assert "ConfigurationError" in refused.stderr and "DEV_JWT_SECRET" in refused.stderr


def test_a_hosted_stage_configured_with_a_dev_secret_cannot_even_be_packaged(tmp_path):
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "chalicelib", tmp_path / "chalicelib")
    shutil.copytree(ROOT / ".chalice", tmp_path / ".chalice", ignore=shutil.ignore_patterns("deployments"))
    config = json.loads(json.dumps(CONFIG))
    config["stages"]["dev"]["environment_variables"]["DEV_JWT_SECRET"] = "a-leaked-local-secret"
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    answer = subprocess.run(
        [packaging._chalice(), "package", "--stage", "dev", str(tmp_path / "out")],
        cwd=tmp_path,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
        capture_output=True,
        text=True,
    )
    assert answer.returncode != 0 and "DEV_JWT_SECRET" in answer.stderr
    assert not (tmp_path / "out").exists()


def test_deploy_runs_the_aws_cli_on_the_packaged_stage():
    package_cmd, deploy_cmd, outputs_cmd = packaging.deploy_commands(
        "prod", "oze-artifacts", ["SenderEmail=ne-pas-repondre@manche.fr"], "v1.2.0"
    )
    assert package_cmd[:3] == ["aws", "cloudformation", "package"]
    assert package_cmd[package_cmd.index("--template-file") + 1] == str(packaging.DIST / "prod" / "sam.yaml")
    assert package_cmd[package_cmd.index("--s3-bucket") + 1] == "oze-artifacts"
    packaged_template = package_cmd[package_cmd.index("--output-template-file") + 1]
    assert deploy_cmd[:3] == ["aws", "cloudformation", "deploy"]
    assert deploy_cmd[deploy_cmd.index("--template-file") + 1] == packaged_template
    assert deploy_cmd[deploy_cmd.index("--stack-name") + 1] == "oze-prod"
    assert {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} <= set(deploy_cmd)
    assert deploy_cmd[-2:] == ["--parameter-overrides", "SenderEmail=ne-pas-repondre@manche.fr"]
    assert outputs_cmd[outputs_cmd.index("--stack-name") + 1] == "oze-prod"


def test_deploy_without_the_aws_cli_says_what_is_missing(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no `aws` there
    answer = subprocess.run(
        [sys.executable, "-m", "devtools.package", "deploy", "--stage", "dev", "--artifacts-bucket", "b"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert answer.returncode != 0 and "AWS CLI" in answer.stderr


# --- least privilege --------------------------------------------------------------------------


def _resource_kinds(stage: str) -> dict[str, str]:
    arn = "arn:${AWS::Partition}"
    regional = "${AWS::Region}:${AWS::AccountId}"
    bucket = f"{arn}:s3:::oze-{stage}-media-${{AWS::AccountId}}"
    return {
        f"{arn}:dynamodb:{regional}:table/oze-{stage}": "table",
        f"{arn}:dynamodb:{regional}:table/oze-{stage}/index/*": "index",
        f"{arn}:dynamodb:{regional}:table/oze-{stage}/stream/*": "stream",
        f"{arn}:ssm:{regional}:parameter/oze-{stage}/mangopay/*": "ssm",
        bucket: "bucket",
        f"{bucket}/*": "object",
        f"{bucket}/pending/*": "object",
        f"{bucket}/media/*": "object",
        f"{arn}:logs:{regional}:log-group:/aws/lambda/oze-{stage}-*:*": "log-group",
        f"{arn}:ses:{regional}:identity/${{SenderEmail}}": "identity",
    }


def _resource_kind(resource: str, stage: str) -> str | None:
    queue = f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:oze-{stage}-"
    if resource.startswith(queue) and "*" not in resource:
        return "queue"
    return _resource_kinds(stage).get(resource)


def _granted(stage: str) -> set[tuple[str, str]]:
    granted = set()
    for statement in _policy(stage)["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        for resource in resources:
            kind = _resource_kind(resource, stage)
            assert kind, f"policy-{stage}.json: {resource} is not one of stage {stage}'s resources"
            granted |= {(action, kind) for action in actions}
    return granted


def _platform_actions() -> set[tuple[str, str]]:
    from chalice.app import DynamoDBEventConfig, SQSEventConfig

    from app import app

    actions = set(LOG_ACTIONS)
    if any(isinstance(source, SQSEventConfig) for source in app.event_sources):
        actions |= SQS_POLLER_ACTIONS
    if any(isinstance(source, DynamoDBEventConfig) for source in app.event_sources):
        actions |= STREAM_POLLER_ACTIONS
    return actions


@pytest.mark.parametrize("stage", HOSTED)
def test_stage_policy_names_only_the_stages_resources_and_no_wildcard_action(stage):
    granted = _granted(stage)
    assert all("*" not in action for action, _ in granted)
    dev = json.dumps(_policy("dev")).replace("oze-dev", f"oze-{stage}")
    assert json.loads(dev) == _policy(stage), "stage policies differ by more than their stage's name"


def _whole_suite(session) -> bool:
    """Run as `pytest` or `pytest tests`, with nothing selected out."""
    config = session.config
    targets = {(config.invocation_params.dir / arg).resolve() for arg in config.args}
    options = config.option
    selected_out = options.keyword or options.markexpr or getattr(options, "deselect", None)
    selected_out = selected_out or getattr(options, "lf", False)
    return targets <= {ROOT, ROOT / "tests"} and not selected_out


@aws_calls.runs_last
def test_stage_policies_grant_exactly_what_the_code_calls(request):
    """Every AWS call that app.py and chalicelib made during this run (tests/aws_calls.py
    maps each to its IAM actions) is granted in every stage's policy, on the right kind of
    resource, and nothing else is; every index of the table is queried by some code."""
    if not _whole_suite(request.session):
        pytest.skip("needs the whole suite: it checks what all the tests made the code call")
    required = aws_calls.CALLS | _platform_actions()
    template = packaging.load_template(packaging.TEMPLATE)
    indexes = {i["IndexName"] for i in template["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"]}
    for stage in HOSTED:
        granted = _granted(stage)
        missing = sorted(required - granted)
        assert not missing, f"policy-{stage}.json lacks these (action, resource kind): {missing}"
        unused = sorted(granted - required)
        if request.session.testsfailed == 0:  # a failed test may have stopped before its calls
            assert not unused, f"policy-{stage}.json grants what no code calls: {unused}"
    assert aws_calls.INDEXES - indexes == set(), "indexes the code queries that infra/template.yaml lacks"
    if request.session.testsfailed == 0:
        assert indexes - aws_calls.INDEXES == set(), "indexes in infra/template.yaml that no code queries"
