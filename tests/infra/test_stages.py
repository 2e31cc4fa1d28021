"""Stages: `-c stage=NAME` picks a cdk.json block and names the stack; production refuses examples."""

from __future__ import annotations

import pytest
from cfnlint.api import lint_file

from stacks.config import ConfigError, Stage
from stacks.stages import load_config, stack_name
from tests.infra.conftest import CDK_JSON_CONTEXT, REAL_PROD, SKIP_BUNDLING, Synthesized
from tests.infra.test_app_entrypoint import run_app
from tests.infra.test_nag_and_lint import TOLERATED_LINT_WARNINGS


def load(**overrides: object):
    return load_config({**CDK_JSON_CONTEXT, **overrides}.get)


def with_stages(**blocks: dict[str, object]) -> dict[str, object]:
    return {**CDK_JSON_CONTEXT["stages"], **blocks}


def test_default_stage_is_dev_and_environment_agnostic(default_synth):
    config = default_synth.stack.config
    assert (config.stage, stack_name(config), config.stage_name) == (Stage("dev"), "JwtGate-dev", "dev")
    assert default_synth.stack.stack_name == "JwtGate-dev"
    assert default_synth.stack.environment == "aws://unknown-account/unknown-region"


def test_prod_stage_names_stack_api_stage_and_tags(prod_synth):
    assert prod_synth.stack.stack_name == "JwtGate-prod"
    assert prod_synth.stack.config.stage == Stage("prod", production=True)
    (api,) = prod_synth.of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["Name"] == "JwtGate-prod"
    (stage,) = prod_synth.of_type("AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == "prod"
    assert {"Key": "jwt-gate:stage", "Value": "prod"} in stage["Properties"]["Tags"]
    (dashboard,) = prod_synth.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "JwtGate-prod"


def test_prod_takes_its_block_s_log_retention(prod_synth):
    retentions = {
        r["Properties"]["RetentionInDays"] for r in prod_synth.of_type("AWS::Logs::LogGroup").values()
    }
    assert retentions == {365}


def test_pinned_stage_sets_the_stack_environment(pinned_synth):
    assert pinned_synth.stack.environment == "aws://123456789012/eu-west-1"
    assert pinned_synth.stack.stack_name == "JwtGate-live"


@pytest.mark.parametrize("synth_name", ["prod_synth", "pinned_synth"])
def test_stage_stacks_pass_cdk_nag_and_cfn_lint(request, synth_name):
    synth: Synthesized = request.getfixturevalue(synth_name)
    assert synth.validation_report()["pluginReports"] == []
    findings = [m for m in lint_file(synth.template_path) if m.rule.id not in TOLERATED_LINT_WARNINGS]
    assert [f"{m.rule.id}: {m.message}" for m in findings] == []


def test_shipped_prod_block_refuses_its_placeholders():
    with pytest.raises(ConfigError) as err:
        load(stage="prod")
    assert str(err.value) == (
        "invalid config \"issuer\": the production stage 'prod' refuses 'https://your-tenant.us.auth0.com/': "
        "it looks like a placeholder; set the real value (example: -c issuer=https://acme.eu.auth0.com/)"
    )


PRODUCTION_REFUSALS = [
    ({"issuer": "https://example.auth0.com/"}, "issuer", "uses an example or reserved domain"),
    ({"issuer": "https://idp.example.org/"}, "issuer", "uses an example or reserved domain"),
    ({"issuer": "https://login.corp.example/"}, "issuer", "uses an example or reserved domain"),
    ({"issuer": "https://YOUR_TENANT.auth0.com/"}, "issuer", "looks like a placeholder"),
    ({"issuer": "https://<tenant>.auth0.com/"}, "issuer", "looks like a placeholder"),
    ({"issuer": "http://127.0.0.1:9000/"}, "issuer", "points at a loopback host (local runs only)"),
    ({"jwksUri": "https://keys.example.net/jwks"}, "jwksUri", "uses an example or reserved domain"),
    ({"audience": "api://jwt-gate-example"}, "audience", "uses an example or reserved domain"),
    ({"audience": "orders-example"}, "audience", "looks like an example value"),
    ({"audience": "api://orders,YOUR_API_ID"}, "audience", "looks like a placeholder"),
    (
        {"additionalIssuers": '[{"issuer": "https://t2.example.com/", "audience": "a"}]'},
        "additionalIssuers",
        "uses an example or reserved domain",
    ),
]


@pytest.mark.parametrize(("overrides", "key", "problem"), PRODUCTION_REFUSALS)
def test_production_stage_refuses_examples_and_placeholders(overrides, key, problem):
    with pytest.raises(ConfigError) as err:
        load(**{**REAL_PROD, **overrides})
    assert (err.value.key, problem in err.value.problem) == (key, True)
    assert err.value.problem.startswith("the production stage 'prod' refuses ")


def test_non_production_stage_accepts_example_values():
    assert load().token_rules.issuer == "https://example.auth0.com/"


def test_a_block_can_mark_any_stage_as_production():
    stages = with_stages(live={"production": True, "issuer": "https://idp.example.com/", "audience": "a"})
    with pytest.raises(ConfigError) as err:
        load(stage="live", stages=stages)
    assert err.value.key == "issuer"


def test_a_stage_named_prod_cannot_opt_out_of_production_checks():
    stages = with_stages(prod={"production": False, "issuer": "https://idp.example.com/", "audience": "a"})
    with pytest.raises(ConfigError) as err:
        load(stage="prod", stages=stages)
    assert err.value.key == "issuer"


def test_top_level_keys_override_the_stage_block():
    config = load(stage="prod", **{k: v for k, v in REAL_PROD.items() if k != "stage"})
    assert (config.token_rules.issuer, config.log_retention_days) == ("https://login.acme-corp.com/", 365)


def test_without_stages_only_the_default_stage_exists():
    flat = {"issuer": "https://idp.example.com/", "audience": "a", "scopeRules": {"GET /a": "s"}}
    assert load_config(flat.get).stage == Stage("dev")
    with pytest.raises(ConfigError) as err:
        load_config({**flat, "stage": "prod"}.get)
    assert str(err.value) == (
        "invalid config \"stage\": 'prod' is not in cdk.json's stages (defined: none) "
        "(example: -c stage=prod)"
    )


STAGE_ERRORS = [
    (
        {"stage": "qa"},
        "invalid config \"stage\": 'qa' is not in cdk.json's stages (defined: dev, prod) "
        "(example: -c stage=prod)",
    ),
    (
        {"stage": "1st"},
        'invalid config "stage": must start with a letter and use letters, digits or - (up to 32), '
        "got '1st' (example: -c stage=prod)",
    ),
    (
        {"stages": with_stages(dev={"isuer": "https://idp.acme-corp.com/"})},
        'invalid config "stages.dev.isuer": unknown key; did you mean issuer?',
    ),
    (
        {"stages": with_stages(dev={"account": "1234"})},
        "invalid config \"stages\": \"account\" of stage 'dev' must be 12 digits, got '1234' (example: -c "
        'stages=\'{"prod": {"production": true, "issuer": "https://acme.eu.auth0.com/", '
        '"audience": "api://orders"}}\')',
    ),
]


@pytest.mark.parametrize(("overrides", "message"), STAGE_ERRORS)
def test_stage_mistakes_fail_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as err:
        load(**overrides)
    assert str(err.value) == message


def test_app_names_the_stack_after_the_stage_and_refuses_placeholders_in_one_line(tmp_path):
    refused = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING, "stage": "prod"}, tmp_path / "refused")
    assert (
        refused.returncode,
        refused.stderr.count("\n"),
        refused.stderr.startswith('error: invalid config "issuer"'),
    ) == (
        1,
        1,
        True,
    )
    accepted = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING, **REAL_PROD}, tmp_path / "accepted")
    assert (accepted.returncode, accepted.stderr) == (0, "")
    assert (tmp_path / "accepted" / "JwtGate-prod.template.json").is_file()
