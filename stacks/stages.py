"""Stages: `-c stage=NAME` selects a block of config from cdk.json's `stages`; the entry point for config.

Precedence, highest first: a top-level context key (cdk.json's top level or `-c key=value`; the CDK CLI
merges both before the app sees them, so they cannot be told apart), then the selected stage's block,
then the defaults in stacks/config.py. Hence keys that differ per stage belong in the stage blocks and
only shared keys at the top level. An identity-provider preset's values sit just below the layer that
selects the preset: `-c preset=cognito` overrides the block's issuer, while a key set beside the preset
(same layer) or above it overrides the preset.

`issuer` and `audience` are a pair: both must come from the same layer, where a preset's derived values
count as the layer that selects the preset. Otherwise `-c issuer=...` or `-c preset=...` alone would keep
the stage block's audience (on a fresh clone the example audience `api://jwt-gate-example`), and every
real token would be rejected; the example issuer and audience only ever apply together.

Every context key must be one this app reads (or one of the CDK's own, see `is_cdk_key`), at the top level
and in every stage block: a misspelt key fails with the nearest valid one instead of being ignored.

Without `-c stage`, the stage is `dev` (DEFAULT_STAGE): a fresh clone synthesizes and runs locally with
the example values of that block, while production needs an explicit `-c stage=prod`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from stacks.config import CONFIG_KEYS, ConfigError, ContextGetter, StackConfig, Stage
from stacks.presets import PRESET_SETTING_KEYS, preset_values

DEFAULT_STAGE: Final = "dev"
# Stage names that are production whatever their block says.
PRODUCTION_NAMES: Final = ("prod", "production")
# Keys only a stage block may hold (they describe the stage, not the API).
STAGE_ONLY_KEYS: Final = ("production", "account", "region")
# Keys only the top level may hold (they choose the stage).
TOP_LEVEL_ONLY_KEYS: Final = ("stage", "stages")
# Context keys of the CDK itself that contain no ":" and do not start with "@" (see is_cdk_key).
CDK_PLAIN_KEYS: Final = ("cli-telemetry", "acknowledged-issue-numbers")
STAGE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,31}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
_STAGE_EXAMPLE: Final = "prod"
_STAGES_EXAMPLE: Final = (
    '\'{"prod": {"production": true, "issuer": "https://acme.eu.auth0.com/", "audience": "api://orders"}}\''
)
_PAIR_EXAMPLES: Final = {"issuer": "https://acme.eu.auth0.com/", "audience": "api://orders"}
_TOP_LEVEL: Final = "-c (or cdk.json's top level)"


def is_cdk_key(key: str) -> bool:
    """A context key the CDK reads or sets, never this app's.

    Feature flags are `@scope/module:flag` (`@aws-cdk/...`, `@aws-cdk-containers/...`), CLI and framework
    settings `aws:cdk:...` / `aws-cdk:...`, cached lookups of cdk.context.json `provider:account=...:...`;
    the CLI's `cli-telemetry` and `acknowledged-issue-numbers` are the only plain names. This app's keys
    are plain camelCase names, so the two sets cannot overlap.
    """
    return key.startswith("@") or ":" in key or key in CDK_PLAIN_KEYS


def top_level_keys() -> tuple[str, ...]:
    """Every key this app reads from the top level of the context (`-c` or cdk.json)."""
    return (*TOP_LEVEL_ONLY_KEYS, *CONFIG_KEYS, *PRESET_SETTING_KEYS)


def stage_block_keys() -> tuple[str, ...]:
    """Every key a stage block may hold."""
    return (*CONFIG_KEYS, *PRESET_SETTING_KEYS, *STAGE_ONLY_KEYS)


class UnknownKeyError(ConfigError):
    """A context key this app does not read: one line naming it and, when one is close, the valid key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem, "")
        self.args = (f'invalid config "{key}": {problem}',)


@dataclass(frozen=True)
class _Layer:
    get: ContextGetter
    place: int  # 0: -c or cdk.json's top level; 1: the stage block (a preset counts as the layer choosing it)
    source: str


def load_config(get: ContextGetter, *, context_keys: Iterable[str] | None = None) -> StackConfig:
    """Read the whole configuration: stage, its block, the preset, then every key (see module docs).

    `context_keys` are the keys of the whole context (app.py passes them); each must be a key this app
    reads or one of the CDK's own. Without them only the stage blocks' keys are checked.
    """
    if context_keys is not None:
        _check_top_level_keys(context_keys)
    stage_name = _stage_name(get("stage"))
    block = _stage_block(get("stages"), stage_name)
    stage = _stage(stage_name, block)
    block_source = f"the block of stage {stage_name!r}"
    layers = [_Layer(get, 0, _TOP_LEVEL), _Layer(block.get, 1, block_source)]

    def first(candidates: list[_Layer], key: str) -> tuple[object, _Layer | None]:
        for layer in candidates:
            value = layer.get(key)
            if value is not None and value != "":
                return value, layer
        return None, None

    chooser = first(layers, "preset")[1]
    beside = layers[: chooser.place + 1] if chooser is not None else layers
    preset, derived = preset_values(lambda key: first(layers, key)[0], lambda key: first(beside, key)[0])
    if derived and chooser is not None:
        # The preset's values sit just below the layer that chose the preset: they override the stage
        # block when the preset comes from -c, and keys set beside the preset (or above it) override them.
        source = f"preset={preset} ({chooser.source})"
        layers.insert(chooser.place + 1, _Layer(derived.get, chooser.place, source))
    config = StackConfig.from_context(lambda key: first(layers, key)[0], stage=stage, preset=preset)
    _check_issuer_audience_pair(first(layers, "issuer")[1], first(layers, "audience")[1])
    return config


def stack_name(config: StackConfig) -> str:
    """CloudFormation stack name: one stack per stage in an account, each named after its stage."""
    return f"JwtGate-{config.stage.name}"


def nearest_key(key: str, valid: Iterable[str]) -> str | None:
    """The valid key `key` most likely misspells (case-insensitive), or None when none is close."""
    by_folded = {name.lower(): name for name in valid}
    match = difflib.get_close_matches(key.lower(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[match[0]] if match else None


def _unknown_key_problem(key: str, valid: Iterable[str]) -> str:
    suggestion = nearest_key(key, valid)
    if suggestion is not None:
        return f"unknown key; did you mean {suggestion}?"
    return 'unknown key (not a jwt-gate config key; the CDK\'s own start with "@" or contain ":")'


def _check_top_level_keys(keys: Iterable[str]) -> None:
    valid = top_level_keys()
    for key in keys:
        if key in valid or is_cdk_key(key):
            continue
        if key in STAGE_ONLY_KEYS:
            raise UnknownKeyError(
                key, f"belongs in a stage block (cdk.json stages.NAME.{key}), not the top level"
            )
        raise UnknownKeyError(key, _unknown_key_problem(key, valid))


def _check_block_keys(name: str, block: Mapping[str, object]) -> None:
    valid = stage_block_keys()
    for key in block:
        if key in valid:
            continue
        if key in TOP_LEVEL_ONLY_KEYS:
            raise UnknownKeyError(
                f"stages.{name}.{key}", f"a stage block cannot set {key!r} (it selects blocks)"
            )
        raise UnknownKeyError(f"stages.{name}.{key}", _unknown_key_problem(key, valid))


def _check_issuer_audience_pair(issuer: _Layer | None, audience: _Layer | None) -> None:
    """Issuer and audience from the same layer: never a new issuer with another layer's (example) audience."""
    if issuer is None or audience is None or issuer.place == audience.place:
        return
    # The key from the lower layer (larger place) is the one left over from a configuration it does not fit.
    stale, stale_layer, other, other_layer = (
        ("audience", audience, "issuer", issuer)
        if audience.place > issuer.place
        else ("issuer", issuer, "audience", audience)
    )
    raise ConfigError(
        stale,
        f"comes from {stale_layer.source} but {other} from {other_layer.source}; issuer and audience are a "
        f"pair, set {stale} where {other} is set",
        _PAIR_EXAMPLES[stale],
    )


def _stage_name(raw: object) -> str:
    if raw is None or raw == "":
        return DEFAULT_STAGE
    if not isinstance(raw, str) or not STAGE_NAME.fullmatch(raw):
        raise ConfigError(
            "stage", f"must start with a letter and use letters, digits or - (up to 32), got {raw!r}", "prod"
        )
    return raw


def _stage_block(raw: object, name: str) -> Mapping[str, object]:
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:  # -c stages='{...}' arrives as a string
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ConfigError("stages", f"is not a valid JSON object ({err.msg})", _STAGES_EXAMPLE) from None
    if raw is None or raw == "":
        stages: dict[str, object] = {}
    elif isinstance(raw, dict):
        stages = raw
    else:
        raise ConfigError("stages", "must be a JSON object of stage name -> config block", _STAGES_EXAMPLE)
    blocks: dict[str, Mapping[str, object]] = {}
    for stage, block in stages.items():
        if not isinstance(block, dict):
            raise ConfigError(
                "stages", f"the block of stage {stage!r} must be a JSON object", _STAGES_EXAMPLE
            )
        # Every block, not only the selected one: a typo in the prod block fails the dev synth in CI too.
        _check_block_keys(stage, block)
        blocks[stage] = block
    if name not in blocks:
        if not blocks and name == DEFAULT_STAGE:
            return {}
        known = ", ".join(sorted(blocks)) or "none"
        raise ConfigError("stage", f"{name!r} is not in cdk.json's stages (defined: {known})", _STAGE_EXAMPLE)
    return blocks[name]


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
