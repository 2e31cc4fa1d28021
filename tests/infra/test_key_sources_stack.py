"""Issue 13 in the stack: the key snapshot in the asset, keys from SSM (refresher, least privilege, extension
layer), the authorizer in a VPC; every new configuration passes cdk-nag (conftest's synth) and cfn-lint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import region_info
from cfnlint.api import lint_file

from stacks.bundling import PipLocalBundling, PythonTarget
from stacks.config import ConfigError
from stacks.key_config import EXAMPLES, EXTENSION_LAYER_ARNS, SNAPSHOT_ASSET_NAME
from stacks.key_sources import REFRESHER_SHARED_FILES, check_key_files, placeholder_value
from stacks.stages import load_config
from tests.infra.conftest import CDK_JSON_CONTEXT, PROJECT_ROOT, SKIP_BUNDLING, Synthesized, synth_stack
from tests.infra.test_app_entrypoint import run_app
from tests.infra.test_asset_hash import asset_hash

ISSUER = "https://example.auth0.com/"
PARTNER = "https://partner.example.org/"
LAYER_EU_WEST_1 = EXAMPLES["parametersExtensionLayerArn"]
SNAPSHOT_DIR = PROJECT_ROOT / ".local" / "test-key-snapshots"  # git-ignored; jwksSnapshot is project-relative
TOLERATED_LINT_WARNINGS = {"W3005"}  # as in test_nag_and_lint.py: CDK's own redundant DependsOn
VPC = {"vpcId": "vpc-0abc1234", "subnetIds": ["subnet-0abc1234", "subnet-0def5678"]}
RSA_KEY = {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"}


def pinned(region: str = "eu-west-1", **block: Any) -> dict[str, Any]:
    """cdk.json's context with the dev stage pinned to an account and region, plus `block` in it."""
    stages = {**CDK_JSON_CONTEXT["stages"]}
    stages["dev"] = {**stages["dev"], "account": "123456789012", "region": region, **block}
    return {**CDK_JSON_CONTEXT, "stages": stages}


def load(context: dict[str, Any]):
    return load_config(context.get, context_keys=context)


def config_error(context: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load(context)
    return str(caught.value)


@pytest.fixture
def snapshot_file() -> Iterator[str]:
    """A valid, fresh snapshot of the example issuer, as a project-relative path."""
    SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SNAPSHOT_DIR / f"{uuid.uuid4().hex}.json"
    document = {"fetched_at": int(time.time()), "issuers": {ISSUER: {"keys": [RSA_KEY]}}}
    path.write_text(json.dumps(document))
    yield path.relative_to(PROJECT_ROOT).as_posix()
    path.unlink(missing_ok=True)


def function(synth: Synthesized, description: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        resource["Properties"]
        for resource in synth.of_type("AWS::Lambda::Function").values()
        if resource["Properties"]["Description"] == description
    ]
    assert len(found) == 1
    return found[0]


def authorizer(synth: Synthesized) -> dict[str, Any]:
    return function(synth, "JWT access-token authorizer")


def refresher(synth: Synthesized) -> dict[str, Any]:
    return function(synth, "jwt-gate key refresher: identity providers' public keys to SSM")


def statements(synth: Synthesized, role_prefix: str) -> list[dict[str, Any]]:
    (policy,) = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in synth.of_type("AWS::IAM::Policy").values()
        if resource["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    return [s for s in policy if not str(s["Action"]).startswith(("['logs", "['xray"))]


def lint(synth: Synthesized) -> list[str]:
    return [
        f"{m.rule.id}: {m.message}"
        for m in lint_file(synth.template_path)
        if m.rule.id not in TOLERATED_LINT_WARNINGS
    ]


KEY_ENV = (
    "JWKS_SNAPSHOT_FILE",
    "JWKS_SNAPSHOT_MAX_AGE_SECONDS",
    "JWKS_SSM_PARAMETER",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
    "SSM_PARAMETER_STORE_TTL",
)


def test_the_default_stack_is_unchanged(default_synth: Synthesized):
    variables = authorizer(default_synth)["Environment"]["Variables"]
    assert not set(KEY_ENV) & set(variables)
    assert "Layers" not in authorizer(default_synth)
    assert "VpcConfig" not in authorizer(default_synth)
    assert default_synth.of_type("AWS::SSM::Parameter") == {}
    assert default_synth.of_type("AWS::Events::Rule") == {}
    assert len(default_synth.of_type("AWS::Lambda::Function")) == 2


# ---- Snapshot ----


@pytest.fixture
def snapshot_synth(tmp_path: Path, snapshot_file: str) -> Synthesized:
    return synth_stack({**CDK_JSON_CONTEXT, "jwksSnapshot": snapshot_file}, tmp_path)


def test_a_snapshot_is_named_by_the_environment(snapshot_synth: Synthesized):
    variables = authorizer(snapshot_synth)["Environment"]["Variables"]
    assert {k: variables[k] for k in KEY_ENV if k in variables} == {
        "JWKS_SNAPSHOT_FILE": "jwks-snapshot.json",
        "JWKS_SNAPSHOT_MAX_AGE_SECONDS": "604800",
    }


def test_a_snapshot_alarm_watches_the_authorizer_s_log(snapshot_synth: Synthesized):
    (metric_filter,) = [
        f["Properties"]
        for f in snapshot_synth.of_type("AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == "SnapshotKeysInUse"
    ]
    assert metric_filter["FilterPattern"] == '{ $.event = "jwks_snapshot_in_use" }'
    assert metric_filter["LogGroupName"]["Ref"].startswith("JwtAuthorizerHandlerLogs")
    alarms = snapshot_synth.of_type("AWS::CloudWatch::Alarm").values()
    assert [a for a in alarms if a["Properties"].get("MetricName") == "SnapshotKeysInUse"]


def test_the_snapshot_s_content_is_in_the_asset_hash(tmp_path: Path):
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def handler(event, context):\n    return event\n")
    snapshot = tmp_path / "keys.json"

    def hashed(content: str, run: str) -> str:
        snapshot.write_text(content)
        app_dir = tmp_path / run
        from aws_cdk import App, Stack

        from stacks.bundling import python_function_code

        app = App(context=SKIP_BUNDLING, outdir=str(app_dir))
        stack = Stack(app, "H")
        code = python_function_code(
            source,
            lambda_.Runtime.PYTHON_3_14,
            lambda_.Architecture.ARM_64,
            extra_files={SNAPSHOT_ASSET_NAME: snapshot},
        )
        location = code.bind(stack).s3_location
        assert location is not None
        return location.object_key

    first = hashed('{"a": 1}', "a")
    assert hashed('{"a": 1}', "b") == first
    assert hashed('{"a": 2}', "c") != first
    assert asset_hash(source, tmp_path / "d") not in (first, hashed('{"a": 2}', "e"))


def test_extra_files_are_copied_into_the_bundle(tmp_path: Path):
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("x = 1\n")
    (tmp_path / "keys.json").write_text("{}")
    out = tmp_path / "out"
    out.mkdir()
    target = PythonTarget.for_function(lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.ARM_64)
    extra = {SNAPSHOT_ASSET_NAME: tmp_path / "keys.json", "gate/fetch.py": tmp_path / "keys.json"}
    PipLocalBundling(source, target, extra).try_bundle(str(out), image=None)  # type: ignore[arg-type]
    files = sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.suffix != ".pyc"
    )
    assert files == ["gate/fetch.py", "handler.py", "jwks-snapshot.json"]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (None, "no such file"),
        ("[]", 'not a key snapshot {"fetched_at": <seconds>, "issuers": {...}}'),
        ("{", "unreadable or not JSON (JSONDecodeError)"),
        (
            json.dumps({"fetched_at": 1, "issuers": {PARTNER: {"keys": [RSA_KEY]}}}),
            f"holds no keys of the issuer {ISSUER!r}",
        ),
        (
            json.dumps({"fetched_at": 1, "issuers": {ISSUER: {"keys": [{**RSA_KEY, "d": "x"}]}}}),
            f"a key of {ISSUER!r} has members other than public ones: d",
        ),
    ],
)
def test_synth_refuses_a_bad_snapshot_with_one_line(tmp_path: Path, document, problem):
    SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SNAPSHOT_DIR / f"{uuid.uuid4().hex}.json"
    if document is not None:
        path.write_text(document)
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    try:
        result = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING, "jwksSnapshot": relative}, tmp_path)
    finally:
        path.unlink(missing_ok=True)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f'error: invalid config "jwksSnapshot": {relative}: {problem} (make snapshot-keys writes it) '
        "(example: -c jwksSnapshot=keys/dev.json)\n",
    )


def test_an_old_snapshot_synthesizes_with_a_warning(snapshot_file: str, capsys):
    path = PROJECT_ROOT / snapshot_file
    path.write_text(
        json.dumps({"fetched_at": int(time.time()) - 8 * 86400, "issuers": {ISSUER: {"keys": [RSA_KEY]}}})
    )
    check_key_files(load({**CDK_JSON_CONTEXT, "jwksSnapshot": snapshot_file}))
    assert capsys.readouterr().err == (
        f"jwt-gate: warning: the key snapshot {snapshot_file} is 8.0 days old, past "
        "jwksSnapshotMaxAgeSeconds (604800): the authorizer will never use it; run make snapshot-keys\n"
    )


def test_a_valid_snapshot_synthesizes_through_app_py(tmp_path: Path, snapshot_file: str):
    result = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING, "jwksSnapshot": snapshot_file}, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


# ---- Keys from SSM ----


@pytest.fixture(scope="module")
def ssm_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = pinned(
        keySource="ssm",
        additionalIssuers=[{"issuer": PARTNER, "audience": ["api://orders"], "jwksUri": f"{PARTNER}keys"}],
    )
    return synth_stack({**context, "keyRefreshMinutes": "15"}, tmp_path_factory.mktemp("ssm"))


def parameter_arn(name: str) -> str:
    return f"arn:aws:ssm:eu-west-1:123456789012:parameter{name}"


def test_ssm_environment_layer_and_least_privilege(ssm_synth: Synthesized):
    props = authorizer(ssm_synth)
    variables = props["Environment"]["Variables"]
    assert {k: variables[k] for k in KEY_ENV if k in variables} == {
        "JWKS_SSM_PARAMETER": json.dumps(
            {ISSUER: "/JwtGate-dev/jwks/0", PARTNER: "/JwtGate-dev/jwks/1"}, separators=(",", ":")
        ),
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773",
        "SSM_PARAMETER_STORE_TTL": "60",
    }
    assert props["Layers"] == [EXTENSION_LAYER_ARNS["eu-west-1"]]
    assert statements(ssm_synth, "JwtAuthorizerHandlerRole") == [
        {
            "Action": "ssm:GetParameter",
            "Effect": "Allow",
            "Resource": [parameter_arn("/JwtGate-dev/jwks/0"), parameter_arn("/JwtGate-dev/jwks/1")],
        }
    ]
    assert statements(ssm_synth, "JwtAuthorizerKeyRefresherFunctionRole") == [
        {
            "Action": "ssm:PutParameter",
            "Effect": "Allow",
            "Resource": [parameter_arn("/JwtGate-dev/jwks/0"), parameter_arn("/JwtGate-dev/jwks/1")],
        }
    ]


def test_ssm_parameters_start_as_placeholders(ssm_synth: Synthesized):
    parameters = sorted(
        (p["Properties"]["Name"], p["Properties"]["Type"], p["Properties"]["Value"])
        for p in ssm_synth.of_type("AWS::SSM::Parameter").values()
    )
    assert parameters == [
        ("/JwtGate-dev/jwks/0", "String", placeholder_value(ISSUER)),
        ("/JwtGate-dev/jwks/1", "String", placeholder_value(PARTNER)),
    ]
    assert placeholder_value(ISSUER) == '{"issuer":"https://example.auth0.com/","fetched_at":null,"keys":[]}'


def test_the_refresher_runs_on_its_schedule_outside_any_vpc(ssm_synth: Synthesized):
    props = refresher(ssm_synth)
    assert json.loads(props["Environment"]["Variables"]["REFRESH_TARGETS"]) == [
        {"issuer": ISSUER, "jwksUri": None, "parameter": "/JwtGate-dev/jwks/0"},
        {"issuer": PARTNER, "jwksUri": f"{PARTNER}keys", "parameter": "/JwtGate-dev/jwks/1"},
    ]
    assert props["Environment"]["Variables"]["JWKS_TIMEOUT_SECONDS"] == "2"
    assert "VpcConfig" not in props
    (rule,) = ssm_synth.of_type("AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("JwtAuthorizerKeyRefresherFunction")
    (metric_filter,) = [
        f["Properties"]
        for f in ssm_synth.of_type("AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == "KeyRefreshFailures"
    ]
    assert metric_filter["FilterPattern"] == '{ $.event = "key_refresh_failed" }'
    assert metric_filter["LogGroupName"]["Ref"].startswith("JwtAuthorizerKeyRefresherFunctionLogs")
    assert "KeyRefresherFunctionName" in ssm_synth.template.to_json()["Outputs"]


def test_the_refresher_s_bundle_imports_without_cryptography(tmp_path: Path):
    """The refresher's asset: its handler plus the shared gate modules, nothing installed; its import must
    not need cryptography (nor anything else the Lambda runtime lacks)."""
    target = PythonTarget.for_function(lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.ARM_64)
    gate = PROJECT_ROOT / "lambda_src" / "authorizer" / "gate"
    extra = {f"gate/{name}": gate / name for name in REFRESHER_SHARED_FILES}
    source = PROJECT_ROOT / "lambda_src" / "key_refresher"
    PipLocalBundling(source, target, extra).try_bundle(str(tmp_path), image=None)  # type: ignore[arg-type]
    child = "import sys; sys.modules['cryptography'] = None; import handler; print(handler.TIMEOUT)"
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n{child}"],
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "2.0\n", "")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {**CDK_JSON_CONTEXT, "keySource": "ssm"},
            "is required with keySource ssm when the stage pins no region (the extension layer's ARN is per "
            "region): set it, or pin the stage's region",
        ),
        (
            {**pinned("ap-south-2"), "keySource": "ssm"},
            "is required with keySource ssm in ap-south-2: no extension layer ARN is known for that region",
        ),
        (
            {**pinned("us-east-1"), "keySource": "ssm", "parametersExtensionLayerArn": LAYER_EU_WEST_1},
            "is a layer in eu-west-1, but the stage deploys to us-east-1 (layers are regional)",
        ),
    ],
)
def test_synth_refuses_ssm_without_a_layer_for_the_region(context, message):
    assert config_error(context) == (
        f'invalid config "parametersExtensionLayerArn": {message} '
        f"(example: -c parametersExtensionLayerArn={LAYER_EU_WEST_1})"
    )


def test_a_configured_layer_needs_no_pinned_region(tmp_path: Path):
    config = load({**CDK_JSON_CONTEXT, "keySource": "ssm", "parametersExtensionLayerArn": LAYER_EU_WEST_1})
    assert config.key_delivery.extension_layer_arn == LAYER_EU_WEST_1


def test_the_layer_table_is_aws_cdk_s(tmp_path: Path):
    known = {}
    for region in region_info.RegionInfo.regions:
        arn = region.params_and_secrets_lambda_layer_arn("1.0.103", "arm64")
        if arn:
            known[region.name] = arn
    assert known == EXTENSION_LAYER_ARNS


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"keySource": "vault"}, "keySource", "must be one of idp, ssm, got 'vault'"),
        (
            {"parametersExtensionLayerArn": LAYER_EU_WEST_1},
            "keySource",
            "is idp, but parametersExtensionLayerArn is only used with ssm",
        ),
        (
            {"vpc": {**VPC, "createSsmEndpoint": True}},
            "keySource",
            'is idp, but the vpc\'s "createSsmEndpoint" is only used with ssm',
        ),
        (
            {
                "keySource": "ssm",
                "parametersExtensionLayerArn": LAYER_EU_WEST_1,
                "jwksMaxStaleSeconds": "600",
                "jwksCacheSeconds": "300",
                "keyRefreshMinutes": "15",
            },
            "keyRefreshMinutes",
            "15 minutes is not below jwksCacheSeconds + jwksMaxStaleSeconds (900 s): the authorizer would "
            "refuse the parameter between refreshes",
        ),
        ({"keyRefreshMinutes": "0"}, "keyRefreshMinutes", "must be from 1 to 1440, got 0"),
        (
            {"jwksSnapshot": "/etc/keys.json"},
            "jwksSnapshot",
            "must be a relative path to a .json file inside the project, got '/etc/keys.json'",
        ),
        (
            {"jwksSnapshot": "../keys.json"},
            "jwksSnapshot",
            "must be a relative path to a .json file inside the project, got '../keys.json'",
        ),
        (
            {"jwksSnapshotMaxAgeSeconds": "30"},
            "jwksSnapshotMaxAgeSeconds",
            "must be from 60 to 7776000, got 30",
        ),
        (
            {"parametersExtensionLayerArn": "layer"},
            "parametersExtensionLayerArn",
            "must be a Lambda layer version ARN, got 'layer'",
        ),
        (
            {"vpc": '{"vpcId": "vpc-1"}'},
            "vpc",
            'must be an object with "vpcId", "subnetIds" and optionally "securityGroupIds", '
            '"createSsmEndpoint"',
        ),
        (
            {"vpc": {**VPC, "vpcId": "vpc-1"}},
            "vpc",
            "\"vpcId\" must be a VPC id like vpc-0abc1234, got 'vpc-1'",
        ),
        ({"vpc": {**VPC, "subnetIds": []}}, "vpc", '"subnetIds" needs at least one subnet'),
        (
            {"vpc": {**VPC, "securityGroupIds": ["sg-1"]}},
            "vpc",
            '"securityGroupIds" must be a list of ids like sg-0abc1234',
        ),
        ({"vpc": {**VPC, "createSsmEndpoint": "yes"}}, "vpc", '"createSsmEndpoint" must be true or false'),
    ],
)
def test_bad_key_settings_fail_with_one_line(overrides, key, message):
    error = config_error({**CDK_JSON_CONTEXT, **overrides})
    assert error == f'invalid config "{key}": {message} (example: -c {key}={EXAMPLES[key]})'


def test_cli_strings_parse_like_json(snapshot_file: str):
    as_cli = load({**CDK_JSON_CONTEXT, "vpc": json.dumps(VPC), "keyRefreshMinutes": "7"}).key_delivery
    as_json = load({**CDK_JSON_CONTEXT, "vpc": VPC, "keyRefreshMinutes": 7}).key_delivery
    assert as_cli == as_json
    assert as_json.vpc is not None
    assert as_json.vpc.subnet_ids == ("subnet-0abc1234", "subnet-0def5678")


# ---- VPC placement ----


@pytest.fixture(scope="module")
def vpc_idp_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_stack({**CDK_JSON_CONTEXT, "vpc": VPC}, tmp_path_factory.mktemp("vpc-idp"))


@pytest.fixture(scope="module")
def vpc_ssm_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    vpc = {**VPC, "securityGroupIds": ["sg-0abc1234"], "createSsmEndpoint": True}
    context = {**pinned("us-east-1"), "keySource": "ssm", "vpc": vpc}
    return synth_stack(context, tmp_path_factory.mktemp("vpc-ssm"))


def test_the_authorizer_runs_in_the_given_subnets_with_a_new_security_group(vpc_idp_synth: Synthesized):
    props = authorizer(vpc_idp_synth)
    assert props["VpcConfig"]["SubnetIds"] == VPC["subnetIds"]
    (group_ref,) = props["VpcConfig"]["SecurityGroupIds"]
    (group_id,) = vpc_idp_synth.of_type("AWS::EC2::SecurityGroup")
    assert group_ref == {"Fn::GetAtt": [group_id, "GroupId"]}
    (role,) = [
        r
        for lid, r in vpc_idp_synth.of_type("AWS::IAM::Role").items()
        if lid.startswith("JwtAuthorizerHandlerRole")
    ]
    assert role["Properties"]["ManagedPolicyArns"] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                ],
            ]
        }
    ]
    assert (
        function(vpc_idp_synth, "Sample endpoint: echoes the caller and the authorizer's claims").get(
            "VpcConfig"
        )
        is None
    )


def test_given_security_groups_and_the_ssm_endpoint(vpc_ssm_synth: Synthesized):
    props = authorizer(vpc_ssm_synth)
    assert props["VpcConfig"] == {"SecurityGroupIds": ["sg-0abc1234"], "SubnetIds": VPC["subnetIds"]}
    (endpoint,) = vpc_ssm_synth.of_type("AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"]["ServiceName"] == "com.amazonaws.us-east-1.ssm"
    assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    assert endpoint["Properties"]["SubnetIds"] == VPC["subnetIds"]
    (ingress,) = vpc_ssm_synth.of_type("AWS::EC2::SecurityGroupIngress").values()
    assert {
        k: ingress["Properties"][k] for k in ("FromPort", "ToPort", "IpProtocol", "SourceSecurityGroupId")
    } == {
        "FromPort": 443,
        "ToPort": 443,
        "IpProtocol": "tcp",
        "SourceSecurityGroupId": "sg-0abc1234",
    }
    assert "VpcConfig" not in refresher(vpc_ssm_synth)


def test_synth_warns_once_when_the_authorizer_in_a_vpc_fetches_from_the_idp(tmp_path: Path, capsys):
    synth_stack({**CDK_JSON_CONTEXT, "vpc": VPC}, tmp_path)
    warnings = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("jwt-gate: warning:")
    ]
    assert warnings == [
        "jwt-gate: warning: the authorizer runs in vpc-0abc1234 (subnets subnet-0abc1234, subnet-0def5678) "
        "with keySource idp: https://example.auth0.com/ must be reachable from those subnets (NAT or proxy), "
        "or use keySource ssm"
    ]


def test_no_warning_with_keys_from_ssm(tmp_path: Path, capsys):
    synth_stack({**pinned(), "keySource": "ssm", "vpc": VPC}, tmp_path)
    assert "jwt-gate: warning:" not in capsys.readouterr().err


# ---- cdk-nag (every synth above ran it) and cfn-lint for every new configuration ----


@pytest.mark.parametrize("synth_name", ["snapshot_synth", "ssm_synth", "vpc_idp_synth", "vpc_ssm_synth"])
def test_new_configurations_pass_cdk_nag_and_cfn_lint(request, synth_name: str):
    synth: Synthesized = request.getfixturevalue(synth_name)
    assert synth.validation_report()["pluginReports"] == []
    assert lint(synth) == []


def test_local_snapshot_dir_is_git_ignored():
    assert ".local/" in (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert os.path.commonpath([SNAPSHOT_DIR, PROJECT_ROOT / ".local"]) == str(PROJECT_ROOT / ".local")


def test_synth_accepts_exactly_the_members_the_authorizer_accepts():
    from gate import jwks_document
    from stacks import key_config

    runtime = {kty: {"kty", *members} for kty, members in jwks_document.PUBLIC_MEMBERS.items()}
    assert runtime == key_config._ALLOWED_MEMBERS
    assert set(jwks_document.KEY_METADATA) == key_config._KEY_METADATA
