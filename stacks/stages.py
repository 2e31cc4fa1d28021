"""Stages: `-c stage=NAME` selects a block of config from cdk.json's `stages`; the entry point for config.

Precedence, highest first: a top-level context key (cdk.json's top level or `-c key=value`; the CDK CLI
merges both before the app sees them, so they cannot be told apart), then the selected stage's block,
then the defaults in stacks/config.py. Hence keys that differ per stage belong in the stage blocks and
only shared keys at the top level. An identity-provider preset's values sit just below the layer that
selects the preset: `-c preset=cognito` overrides the block's issuer, while a key set beside the preset
(same layer) or above it overrides the preset.

Without `-c stage`, the stage is `dev` (DEFAULT_STAGE): a fresh clone synthesizes and runs locally with
the example values of that block, while production needs an explicit `-c stage=prod`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from stacks.config import CONFIG_KEYS, ConfigError, ContextGetter, StackConfig, Stage
from stacks.presets import PRESET_SETTING_KEYS, preset_values

DEFAULT_STAGE: Final = "dev"
# Stage names that are production whatever their block says.
PRODUCTION_NAMES: Final = ("prod", "production")
# Keys only a stage block may hold (they describe the stage, not the API).
STAGE_ONLY_KEYS: Final = ("production", "account", "region")
STAGE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,31}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
_STAGE_EXAMPLE: Final = "prod"
_STAGES_EXAMPLE: Final = '\'{"prod": {"production": true, "issuer": "https://login.your-idp.com/"}}\''


def load_config(get: ContextGetter) -> StackConfig:
    """Read the whole configuration: stage, its block, the preset, then every key (see module docs)."""
    stage_name = _stage_name(get("stage"))
    block = _stage_block(get("stages"), stage_name)
    stage = _stage(stage_name, block)
    layers: list[ContextGetter] = [get, block.get]

    def first(getters: list[ContextGetter], key: str) -> object:
        for getter in getters:
            value = getter(key)
            if value is not None and value != "":
                return value
        return None

    preset, derived = preset_values(lambda key: first(layers, key))
    if derived:
        # The preset's values sit just below the layer that chose the preset: they override the stage
        # block when the preset comes from -c, and keys set beside the preset (or above it) override them.
        chosen_at = 0 if first(layers[:1], "preset") is not None else 1
        layers.insert(chosen_at + 1, derived.get)
    return StackConfig.from_context(lambda key: first(layers, key), stage=stage, preset=preset)


def stack_name(config: StackConfig) -> str:
    """CloudFormation stack name: one stack per stage in an account, each named after its stage."""
    return f"JwtGate-{config.stage.name}"


def _stage_name(raw: object) -> str:
    if raw is None or raw == "":
        return DEFAULT_STAGE
    if not isinstance(raw, str) or not STAGE_NAME.fullmatch(raw):
        raise ConfigError(
            "stage", f"must start with a letter and use letters, digits or - (up to 32), got {raw!r}", "prod"
        )
    return raw


def _stage_block(raw: object, name: str) -> Mapping[str, object]:
    if raw is None or raw == "":
        stages: dict[str, object] = {}
    elif isinstance(raw, dict):
        stages = raw
    else:
        raise ConfigError("stages", "must be a JSON object of stage name -> config block", _STAGES_EXAMPLE)
    if name not in stages:
        if not stages and name == DEFAULT_STAGE:
            return {}
        known = ", ".join(sorted(stages)) or "none"
        raise ConfigError("stage", f"{name!r} is not in cdk.json's stages (defined: {known})", _STAGE_EXAMPLE)
    block = stages[name]
    if not isinstance(block, dict):
        raise ConfigError("stages", f"the block of stage {name!r} must be a JSON object", _STAGES_EXAMPLE)
    allowed = set(CONFIG_KEYS) | set(PRESET_SETTING_KEYS) | set(STAGE_ONLY_KEYS)
    unknown = sorted(set(block) - allowed)
    if unknown:
        raise ConfigError(
            "stages", f"the block of stage {name!r} has unknown keys: {', '.join(unknown)}", _STAGES_EXAMPLE
        )
    return block


def _stage(name: str, block: Mapping[str, object]) -> Stage:
    production = block.get("production", False)
    if not isinstance(production, bool):
        raise ConfigError("stages", f'"production" of stage {name!r} must be true or false', _STAGES_EXAMPLE)
    account = block.get("account")
    region = block.get("region")
    if account is not None and not (isinstance(account, str) and _ACCOUNT.fullmatch(account)):
        raise ConfigError(
            "stages", f'"account" of stage {name!r} must be 12 digits, got {account!r}', _STAGES_EXAMPLE
        )
    if region is not None and not (isinstance(region, str) and _REGION.fullmatch(region)):
        raise ConfigError(
            "stages", f'"region" of stage {name!r} must be an AWS region, got {region!r}', _STAGES_EXAMPLE
        )
    return Stage(
        name=name,
        production=production or name.lower() in PRODUCTION_NAMES,
        account=account,
        region=region,
    )
