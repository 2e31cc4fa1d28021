"""Issue 10, first-hour defects: each path a new user takes in the first hour ends in one clear line.

Audience pairing (1), examples that pass their own checks (2), `make` as the one entry point (4), unknown
context keys (5) and the unknown-route response (6). The local instances (3) are in
tests/local/test_local_instances.py.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from typing import Any

import pytest

from stacks.config import _KEYS, CONFIG_KEYS, ConfigError
from stacks.presets import PRESET_SETTING_KEYS, PRESETS
from stacks.stages import is_cdk_key, load_config, stage_block_keys, top_level_keys
from tests.infra.conftest import CDK_JSON_CONTEXT, PROJECT_ROOT, REAL_PROD, SKIP_BUNDLING, Synthesized
from tests.infra.test_app_entrypoint import run_app

MAKEFILE = PROJECT_ROOT / "Makefile"
README = PROJECT_ROOT / "README.md"
OKTA_WITHOUT_AUDIENCE = {"preset": "okta", "oktaDomain": "dev-123.okta.com", "oktaAuthServerId": "default"}


def load(**overrides: object):
    context = {**CDK_JSON_CONTEXT, **overrides}
    return load_config(context.get, context_keys=context)


def error_of(**overrides: object) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load(**overrides)
    assert "\n" not in str(err.value)
    return err.value


# 1. A preset, or an issuer other than the example's, comes with its own audience.


def test_preset_without_audience_fails_synth_with_one_line_naming_audience(tmp_path):
    result = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING, **OKTA_WITHOUT_AUDIENCE}, tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        'error: invalid config "audience": is required with preset=okta, set where the preset is: the '
        "Audience of the authorization server (api://default for 'default') (example: -c audience=api://default)\n",
    )


def test_issuer_set_above_the_stage_block_does_not_keep_its_example_audience():
    assert str(error_of(issuer="https://dev-123.okta.com/oauth2/default")) == (
        "invalid config \"audience\": comes from the block of stage 'dev' but issuer from -c (or cdk.json's "
        "top level); issuer and audience are a pair, set audience where issuer is set "
        "(example: -c audience=api://orders)"
    )


def test_audience_set_above_the_stage_block_does_not_keep_its_example_issuer():
    assert str(error_of(audience="https://orders.acme-corp.com")) == (
        "invalid config \"issuer\": comes from the block of stage 'dev' but audience from -c (or cdk.json's "
        "top level); issuer and audience are a pair, set issuer where audience is set "
        "(example: -c issuer=https://acme.eu.auth0.com/)"
    )


def test_preset_chosen_in_a_stage_block_pairs_with_that_block_s_audience_only():
    live = {"preset": "okta", "oktaDomain": "acme.okta.com", "oktaAuthServerId": "default"}
    stages = {**CDK_JSON_CONTEXT["stages"], "live": {**live, "audience": "api://default"}}
    assert load(stage="live", stages=stages).token_rules.audience == ("api://default",)
    assert str(error_of(stage="live", stages=stages, audience="api://orders")) == (
        "invalid config \"issuer\": comes from preset=okta (the block of stage 'live') but audience from -c "
        "(or cdk.json's top level); issuer and audience are a pair, set issuer where audience is set "
        "(example: -c issuer=https://acme.eu.auth0.com/)"
    )


def test_cognito_derives_its_audience_so_it_needs_no_other():
    config = load(preset="cognito", cognitoUserPoolId="eu-west-1_AbCdEf123", cognitoClientIds="abc123")
    assert (config.token_rules.issuer, config.token_rules.audience) == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        ("abc123",),
    )


def test_documented_precedence_cli_then_stage_block_then_defaults_preset_below_its_layer():
    # -c over the block, the block over the defaults.
    assert load(leewaySeconds="5").token_rules.leeway_seconds == 5
    assert (
        load(stage="prod", **{k: v for k, v in REAL_PROD.items() if k != "stage"}).log_retention_days == 365
    )
    # A preset from -c overrides the block's issuer; a key beside the preset overrides the preset.
    okta = {**OKTA_WITHOUT_AUDIENCE, "audience": "api://default"}
    assert load(**okta).token_rules.issuer == "https://dev-123.okta.com/oauth2/default"
    assert load(**okta, jwksUri="https://dev-123.okta.com/keys").token_rules.jwks_uri == (
        "https://dev-123.okta.com/keys"
    )


# 2. Every error's example passes the same checks (a production stage's included).


def fed_back(key: str, example: str) -> dict[str, object]:
    """`-c key=example` as the shell hands it to the CDK: one word, quotes removed."""
    (word,) = shlex.split(f"{key}={example}")
    name, _, value = word.partition("=")
    return {name: value}


def first_error(context: dict[str, Any]) -> ConfigError | None:
    try:
        load_config(context.get, context_keys=context)
    except ConfigError as err:
        return err
    return None


def assert_example_passes(context: dict[str, Any], err: ConfigError) -> None:
    again = first_error({**context, **fed_back(err.key, err.example)})
    assert again is None or again.key != err.key, f"the example of {err.key!r} is refused: {again}"


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_config_key_s_example_passes_validation_in_a_production_stage(key):
    err = first_error({**CDK_JSON_CONTEXT, **REAL_PROD, **fed_back(key, _KEYS[key].example)})
    assert err is None or err.key != key, f"the example of {key!r} is refused: {err}"


def test_make_synth_prod_with_the_issuer_example_is_answered_with_an_example_that_passes():
    """The issue's report: `make synth STAGE=prod ISSUER=https://your-tenant.example.com/`."""
    context = {**CDK_JSON_CONTEXT, "stage": "prod", "issuer": "https://your-tenant.example.com/"}
    err = error_of(**context)
    assert str(err) == (
        "invalid config \"issuer\": the production stage 'prod' refuses 'https://your-tenant.example.com/': "
        "it looks like a placeholder; set the real value (example: -c issuer=https://acme.eu.auth0.com/)"
    )
    assert_example_passes(context, err)


ERRORS_WITH_EXAMPLES: list[dict[str, object]] = [
    {"stage": "prod"},  # the shipped prod block's placeholders
    {"stage": "prod", "issuer": "https://acme.eu.auth0.com/"},
    {"stage": "prod", "issuer": "https://acme.eu.auth0.com/", "audience": "https://api.your-company.com/x"},
    {**REAL_PROD, "jwksUri": "https://keys.example.net/jwks"},
    {**REAL_PROD, "additionalIssuers": '[{"issuer": "https://t.example.com/", "audience": "a"}]'},
    {**REAL_PROD, "alarmTopicArn": "arn:aws:sns:eu-west-1:1:x"},
    {"stage": "1st"},
    {"stage": "qa"},
    {"stages": "[]"},
    {"stages": {**CDK_JSON_CONTEXT["stages"], "dev": {"account": "1234"}}},
    {"issuer": "https://dev-123.okta.com/oauth2/default"},
    {"audience": "https://orders.acme-corp.com"},
    {"preset": "okta-ish"},
]


@pytest.mark.parametrize("context", ERRORS_WITH_EXAMPLES, ids=lambda c: ",".join(f"{k}" for k in c))
def test_the_example_of_each_error_passes_when_fed_back(context):
    full = {**CDK_JSON_CONTEXT, **context}
    err = error_of(**context)
    assert_example_passes(full, err)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_s_examples_build_a_production_config(preset):
    """Start from the bare preset in a production stage and fill each missing key with its error's example."""
    context: dict[str, object] = {**CDK_JSON_CONTEXT, "stage": "prod", "preset": preset}
    filled: list[str] = []
    while (err := first_error(context)) is not None:
        assert err.key not in filled, f"the example of {err.key!r} is refused: {err}"
        filled.append(err.key)
        context.update(fed_back(err.key, err.example))
    assert set(filled) <= {"audience", *PRESET_SETTING_KEYS}


# 4. Everything the README asks users to run goes through make.


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def phony_targets() -> list[str]:
    match = re.search(r"^\.PHONY:(.*)$", MAKEFILE.read_text(), re.MULTILINE)
    assert match is not None
    return match.group(1).split()


def test_make_help_is_the_default_and_describes_every_target():
    listed = make("-s")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout == make("-s", "help").stdout
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[2:]}
    assert sorted(lines) == sorted(phony_targets())
    assert all(len(line.split()) >= 3 for line in lines.values())  # a name and a description


@pytest.mark.parametrize(
    ("target", "command"), [(t, t) for t in ("synth", "diff", "deploy", "bootstrap")] + [("local", "synth")]
)
def test_context_reaches_the_cdk_command_line(target, command):
    dry = make("-n", target, "CONTEXT=-c authorizerCacheTtlSeconds=60 -c tracing=false", "STAGE=prod")
    (line,) = [line for line in dry.stdout.splitlines() if line.startswith("node_modules/.bin/cdk ")]
    assert line.split()[1] == command
    assert line.split()[-6:] == [
        "-c",
        "stage=prod",
        "-c",
        "authorizerCacheTtlSeconds=60",
        "-c",
        "tracing=false",
    ]


def test_make_silences_the_jsii_node_end_of_life_banner_for_every_target():
    assert "export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20\n" in MAKEFILE.read_text()


def test_readme_commands_all_go_through_make():
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert [c for c in commands if c and not c.startswith("make ")] == []
    assert re.findall(r"npx |node_modules/\.bin/", text) == []


def test_readme_states_the_node_versions_honestly():
    quick_start = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "Node.js >= 20" not in quick_start
    assert "20 is what this project is tested on" in quick_start
    assert "end-of-life since 2026-10-30" in quick_start
    assert "Node 22 and 24 are supported by jsii but not tested here" in quick_start


# 5. Unknown context keys fail with the nearest valid key; the CDK's own keys pass.


def test_unknown_cli_key_fails_synth_with_the_nearest_valid_key(tmp_path):
    result = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING, "authorizerCacheTTLSeconds": "7200"}, tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        'error: invalid config "authorizerCacheTTLSeconds": unknown key; '
        "did you mean authorizerCacheTtlSeconds?\n",
    )


def test_unknown_key_without_a_near_one():
    assert str(error_of(colour="blue")) == (
        'invalid config "colour": unknown key (not a jwt-gate config key; the CDK\'s own start with "@" or '
        'contain ":")'
    )


def test_stage_only_key_at_the_top_level_says_where_it_belongs():
    assert str(error_of(account="123456789012")) == (
        'invalid config "account": belongs in a stage block (cdk.json stages.NAME.account), not the top level'
    )


def test_unknown_key_in_any_stage_block_fails_with_the_nearest_valid_key():
    prod = {**CDK_JSON_CONTEXT["stages"]["prod"], "audiance": "https://orders.acme-corp.com"}
    stages = {**CDK_JSON_CONTEXT["stages"], "prod": prod}
    # Checked while synthesizing dev too: a typo in the prod block must not wait for the prod deploy.
    assert (
        str(error_of(stages=stages))
        == 'invalid config "stages.prod.audiance": unknown key; did you mean audience?'
    )


def test_valid_keys_come_from_the_config_table_not_a_hand_kept_list():
    assert set(top_level_keys()) == {"stage", "stages", *CONFIG_KEYS, *PRESET_SETTING_KEYS}
    assert set(stage_block_keys()) == {"production", "account", "region", *CONFIG_KEYS, *PRESET_SETTING_KEYS}


CDK_OWN_KEYS = [
    "@aws-cdk/core:failSynthOnValidationErrors",
    "@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver",
    "aws:cdk:enable-path-metadata",
    "aws:cdk:enable-asset-metadata",
    "aws:cdk:version-reporting",
    "aws:cdk:bundling-stacks",
    "aws-cdk:enableDiffNoFail",
    "cli-telemetry",
    "acknowledged-issue-numbers",
    "availability-zones:account=123456789012:region=eu-west-1",
]


@pytest.mark.parametrize("key", CDK_OWN_KEYS)
def test_the_cdk_s_own_keys_are_left_alone(key):
    assert is_cdk_key(key)
    assert load(**{key: True}).stage_name == "dev"


def test_the_context_the_cdk_cli_passes_is_accepted(tmp_path):
    """The real CLI (cdk.json's keys plus its own) runs the real app; only bundling is switched off."""
    wrapper = tmp_path / "app_without_bundling.py"
    wrapper.write_text(
        "import json, os, runpy, sys\n"
        "context = json.loads(os.environ['CDK_CONTEXT_JSON'])\n"
        "context['aws:cdk:bundling-stacks'] = []\n"
        "os.environ['CDK_CONTEXT_JSON'] = json.dumps(context)\n"
        "sys.argv = ['app.py']\n"
        "sys.path.insert(0, os.getcwd())\n"
        "runpy.run_path('app.py', run_name='__main__')\n"
    )
    result = subprocess.run(
        [
            str(PROJECT_ROOT / "node_modules" / ".bin" / "cdk"),
            "synth",
            "--quiet",
            "--app",
            f"{sys.executable} {wrapper}",
            "--output",
            str(tmp_path / "cdk.out"),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "cdk.out" / "JwtGate-dev.template.json").is_file()


# 6. An unknown route is a 404, not an authentication failure.

NOT_FOUND_BODY = '{"error": "not_found", "message": "No route matches this method and path."}'


def not_found_response(synth: Synthesized) -> dict[str, Any]:
    (response,) = [
        value["Properties"]
        for value in synth.of_type("AWS::ApiGateway::GatewayResponse").values()
        if value["Properties"]["ResponseType"] == "MISSING_AUTHENTICATION_TOKEN"
    ]
    return {k: v for k, v in response.items() if k != "RestApiId"}


def test_unknown_route_answers_404_not_found(default_synth):
    assert not_found_response(default_synth) == {
        "ResponseType": "MISSING_AUTHENTICATION_TOKEN",
        "StatusCode": "404",
        "ResponseTemplates": {"application/json": NOT_FOUND_BODY},
    }


def test_unknown_route_404_carries_the_cors_headers_of_the_other_responses(variant_synth):
    assert not_found_response(variant_synth)["ResponseParameters"] == {
        "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
        "gatewayresponse.header.Access-Control-Expose-Headers": "'WWW-Authenticate,Retry-After'",
        "gatewayresponse.header.Vary": "'Origin'",
    }
