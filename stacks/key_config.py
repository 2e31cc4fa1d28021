"""Where the authorizer's keys come from (issue 13): config keys, their parsers and the checks across them.

Keys: `keySource` (`idp` | `ssm`), `keyRefreshMinutes`, `parametersExtensionLayerArn`, `jwksSnapshot`,
`jwksSnapshotMaxAgeSeconds`, `vpc`. stacks/config.py lists them in `_KEYS` with these parsers and calls
`key_delivery` once every key is read; stacks/key_sources.py turns the result into resources.

Like stacks/config.py this module does not import aws_cdk, so config validation runs without jsii. The
extension layer ARNs per region below are aws-cdk-lib's own table (region-info,
`ParamsAndSecretsVersions.V1_0_103`, arm64; tests/infra/test_key_sources_stack.py holds the two equal): with
`keySource: ssm` a stage pinned to one of these regions needs no `parametersExtensionLayerArn`; any other
stage must name the layer (AWS publishes newer versions per region on the extension's documentation page).
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final

from stacks.rules import InvalidValueError

if TYPE_CHECKING:
    from stacks.config import StackConfig, Stage, TokenRules

PROJECT_ROOT: Final = Path(__file__).resolve().parents[1]
KEY_SOURCES: Final = ("idp", "ssm")
DEFAULT_REFRESH_MINUTES: Final = 5
DEFAULT_SNAPSHOT_MAX_AGE_SECONDS: Final = 604800
# The snapshot's name inside the authorizer asset (JWKS_SNAPSHOT_FILE, relative to the asset root).
SNAPSHOT_ASSET_NAME: Final = "jwks-snapshot.json"
EXAMPLES: Final = {
    "keySource": "ssm",
    "keyRefreshMinutes": "5",
    "parametersExtensionLayerArn": (
        "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:4"
    ),
    "jwksSnapshot": "keys/dev.json",
    "jwksSnapshotMaxAgeSeconds": "604800",
    "vpc": '\'{"vpcId": "vpc-0abc1234", "subnetIds": ["subnet-0abc1234", "subnet-0def5678"]}\'',
}
_LAYER_NAME: Final = "AWS-Parameters-and-Secrets-Lambda-Extension-Arm64"
EXTENSION_LAYER_ARNS: Final = {
    region: f"arn:aws:lambda:{region}:{account}:layer:{_LAYER_NAME}:{version}"
    for region, account, version in (
        ("af-south-1", "317013901791", 1),
        ("ap-east-1", "768336418462", 1),
        ("ap-northeast-1", "133490724326", 4),
        ("ap-northeast-2", "738900069198", 1),
        ("ap-south-1", "176022468876", 4),
        ("ap-southeast-1", "044395824272", 4),
        ("ap-southeast-2", "665172237481", 4),
        ("ap-southeast-3", "490737872127", 1),
        ("ca-central-1", "200266452380", 1),
        ("eu-central-1", "187925254637", 4),
        ("eu-north-1", "427196147048", 1),
        ("eu-south-1", "325218067255", 1),
        ("eu-west-1", "015030872274", 4),
        ("eu-west-2", "133256977650", 4),
        ("eu-west-3", "780235371811", 1),
        ("me-south-1", "832021897121", 1),
        ("sa-east-1", "933737806257", 1),
        ("us-east-1", "177933569100", 4),
        ("us-east-2", "590474943231", 4),
        ("us-west-1", "997803712105", 1),
        ("us-west-2", "345057560386", 4),
    )
}
_LAYER_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:(?P<region>[a-z]{2}(-[a-z]+)+-\d):\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+"
)
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")
_VPC_MEMBERS: Final = frozenset({"vpcId", "subnetIds", "securityGroupIds", "createSsmEndpoint"})
_WARNING_PREFIX: Final = "jwt-gate: warning:"


class KeyConfigError(Exception):
    """A problem across the key settings; stacks/config.py turns it into its one-line ConfigError."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class VpcPlacement:
    """The authorizer's network placement (`vpc`): existing subnets, existing or a new security group."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...] = ()
    create_ssm_endpoint: bool = False


@dataclass(frozen=True)
class KeyDelivery:
    """Where the authorizer's keys come from; the defaults keep the issue-3 stack unchanged."""

    key_source: str = "idp"
    refresh_minutes: int = DEFAULT_REFRESH_MINUTES
    extension_layer_arn: str | None = None  # resolved: configured, or from EXTENSION_LAYER_ARNS (ssm only)
    snapshot: str | None = None  # project-relative path of the committed snapshot file
    snapshot_max_age_seconds: int = DEFAULT_SNAPSHOT_MAX_AGE_SECONDS
    vpc: VpcPlacement | None = None

    @property
    def snapshot_path(self) -> Path | None:
        return PROJECT_ROOT / self.snapshot if self.snapshot is not None else None


# ---- Parsers, in stacks/config.py's (raw value, key) -> value shape ----


def parse_key_source(raw: object, key: str) -> str:
    if raw not in KEY_SOURCES:
        raise InvalidValueError(f"must be one of {', '.join(KEY_SOURCES)}, got {raw!r}")
    return str(raw)


def parse_layer_arn(raw: object, key: str) -> str:
    if not isinstance(raw, str) or not _LAYER_ARN.fullmatch(raw):
        raise InvalidValueError(f"must be a Lambda layer version ARN, got {raw!r}")
    return raw


def parse_snapshot_path(raw: object, key: str) -> str:
    """A project-relative POSIX path to a .json file (the file itself is checked by `check_snapshot_file`)."""
    if not isinstance(raw, str) or raw != raw.strip():
        raise InvalidValueError(f"must be a path relative to the project folder, got {raw!r}")
    path = PurePosixPath(raw)
    if path.is_absolute() or "\\" in raw or ".." in path.parts or path.suffix != ".json":
        raise InvalidValueError(f"must be a relative path to a .json file inside the project, got {raw!r}")
    return path.as_posix()


def parse_vpc(raw: object, key: str) -> VpcPlacement:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise InvalidValueError(f"is not a valid JSON object ({err.msg})") from None
    if not isinstance(raw, dict) or not {"vpcId", "subnetIds"} <= raw.keys() <= _VPC_MEMBERS:
        raise InvalidValueError(
            'must be an object with "vpcId", "subnetIds" and optionally "securityGroupIds", '
            '"createSsmEndpoint"'
        )
    vpc_id = raw["vpcId"]
    if not isinstance(vpc_id, str) or not _VPC_ID.fullmatch(vpc_id):
        raise InvalidValueError(f'"vpcId" must be a VPC id like vpc-0abc1234, got {vpc_id!r}')
    subnets = _ids(raw["subnetIds"], _SUBNET_ID, "subnetIds", "subnet-0abc1234")
    if not subnets:
        raise InvalidValueError('"subnetIds" needs at least one subnet')
    groups = _ids(raw.get("securityGroupIds", []), _SECURITY_GROUP_ID, "securityGroupIds", "sg-0abc1234")
    endpoint = raw.get("createSsmEndpoint", False)
    if not isinstance(endpoint, bool):
        raise InvalidValueError('"createSsmEndpoint" must be true or false')
    return VpcPlacement(vpc_id, subnets, groups, endpoint)


def _ids(raw: object, pattern: re.Pattern[str], member: str, example: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(i, str) and pattern.fullmatch(i) for i in raw):
        raise InvalidValueError(f'"{member}" must be a list of ids like {example}')
    if len(set(raw)) != len(raw):
        raise InvalidValueError(f'"{member}" must not repeat an id')
    return tuple(raw)


# ---- Across keys ----


def key_delivery(values: Mapping[str, object], *, stage: Stage, key_set_usable_seconds: int) -> KeyDelivery:
    """The key settings from parsed values (`_KEYS` names), checked against each other and the stage.

    `key_set_usable_seconds` is jwksCacheSeconds + jwksMaxStaleSeconds: how old a parameter value may be
    before the authorizer treats it as a failed fetch, so the refresher must run more often than that.
    """
    source = str(values["keySource"])
    minutes = values["keyRefreshMinutes"]
    assert isinstance(minutes, int)
    layer = values["parametersExtensionLayerArn"]
    assert layer is None or isinstance(layer, str)
    vpc = values["vpc"]
    assert vpc is None or isinstance(vpc, VpcPlacement)
    max_age = values["jwksSnapshotMaxAgeSeconds"]
    assert isinstance(max_age, int)
    snapshot = values["jwksSnapshot"]
    assert snapshot is None or isinstance(snapshot, str)
    if source == "ssm":
        layer = _layer_for(layer, stage)
        if minutes * 60 >= key_set_usable_seconds:
            raise KeyConfigError(
                "keyRefreshMinutes",
                f"{minutes} minutes is not below jwksCacheSeconds + jwksMaxStaleSeconds "
                f"({key_set_usable_seconds} s): the authorizer would refuse the parameter between refreshes",
            )
    elif layer is not None:
        raise KeyConfigError("keySource", "is idp, but parametersExtensionLayerArn is only used with ssm")
    if vpc is not None and vpc.create_ssm_endpoint and source != "ssm":
        raise KeyConfigError("keySource", 'is idp, but the vpc\'s "createSsmEndpoint" is only used with ssm')
    return KeyDelivery(
        key_source=source,
        refresh_minutes=minutes,
        extension_layer_arn=layer,
        snapshot=snapshot,
        snapshot_max_age_seconds=max_age,
        vpc=vpc,
    )


def _layer_for(configured: str | None, stage: Stage) -> str:
    region = stage.region
    if configured is not None:
        match = _LAYER_ARN.fullmatch(configured)
        assert match is not None
        if region is not None and match["region"] != region:
            raise KeyConfigError(
                "parametersExtensionLayerArn",
                f"is a layer in {match['region']}, but the stage deploys to {region} (layers are regional)",
            )
        return configured
    if region is None:
        raise KeyConfigError(
            "parametersExtensionLayerArn",
            "is required with keySource ssm when the stage pins no region (the extension layer's ARN is "
            "per region): set it, or pin the stage's region",
        )
    if region not in EXTENSION_LAYER_ARNS:
        raise KeyConfigError(
            "parametersExtensionLayerArn",
            f"is required with keySource ssm in {region}: no extension layer ARN is known for that region",
        )
    return EXTENSION_LAYER_ARNS[region]


def issuers_of(rules: TokenRules) -> tuple[str, ...]:
    return (rules.issuer, *(extra.issuer for extra in rules.additional_issuers))


def check_snapshot_file(config: StackConfig, *, now: float) -> None:
    """Synth refuses a snapshot the authorizer's cold start would refuse (gate/key_sources.py): a missing or
    unreadable file, one that is not the snapshot format, keys with members other than public ones, or no
    keys for a configured issuer. One that is past its max age only gets a warning on stderr (it will never
    be used; refreshing it needs the identity provider, which may be why you are deploying)."""
    from stacks.config import ConfigError  # here: stacks.config imports this module

    delivery = config.key_delivery
    path = delivery.snapshot_path
    if path is None:
        return
    example = EXAMPLES["jwksSnapshot"]

    def refuse(problem: str) -> ConfigError:
        where = delivery.snapshot
        return ConfigError("jwksSnapshot", f"{where}: {problem} (make snapshot-keys writes it)", example)

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise refuse("no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise refuse(f"unreadable or not JSON ({type(err).__name__})") from None
    fetched_at = document.get("fetched_at") if isinstance(document, dict) else None
    issuers = document.get("issuers") if isinstance(document, dict) else None
    if (
        isinstance(fetched_at, bool)
        or not isinstance(fetched_at, int | float)
        or not math.isfinite(fetched_at)
        or not isinstance(issuers, dict)
        or set(document) != {"fetched_at", "issuers"}
    ):
        raise refuse('not a key snapshot {"fetched_at": <seconds>, "issuers": {...}}')
    for issuer in issuers_of(config.token_rules):
        entry = issuers.get(issuer)
        keys = entry.get("keys") if isinstance(entry, dict) else None
        if not isinstance(keys, list) or not keys:
            raise refuse(f"holds no keys of the issuer {issuer!r}")
        for key in keys:
            problem = _public_key_problem(key)
            if problem is not None:
                raise refuse(f"a key of {issuer!r} {problem}")
    age = now - fetched_at
    if age >= delivery.snapshot_max_age_seconds:
        print(
            f"{_WARNING_PREFIX} the key snapshot {delivery.snapshot} is {age / 86400:.1f} days old, past "
            f"jwksSnapshotMaxAgeSeconds ({delivery.snapshot_max_age_seconds}): the authorizer will never use "
            "it; run make snapshot-keys",
            file=sys.stderr,
        )


# The members gate/jwks_document.py accepts, per kty (public members and the key metadata).
_ALLOWED_MEMBERS: Final = {
    "RSA": {"kty", "n", "e"},
    "EC": {"kty", "crv", "x", "y"},
    "OKP": {"kty", "crv", "x"},
}
_KEY_METADATA: Final = {"kid", "use", "alg", "key_ops"}


def _public_key_problem(key: object) -> str | None:
    if not isinstance(key, dict):
        return "is not a JSON object"
    kty = key.get("kty")
    allowed = _ALLOWED_MEMBERS.get(kty) if isinstance(kty, str) else None
    if allowed is None:
        return f"has kty {key.get('kty')!r}, not RSA, EC or OKP"
    extra = sorted(set(key) - allowed - _KEY_METADATA)
    if extra:
        return f"has members other than public ones: {', '.join(extra)}"
    missing = sorted(allowed - set(key))
    if missing:
        return f"lacks {', '.join(missing)}"
    return None


def vpc_warning(delivery: KeyDelivery, rules: TokenRules) -> str | None:
    """The one line synth prints when the authorizer sits in a VPC and still fetches keys from the IdP."""
    vpc = delivery.vpc
    if vpc is None or delivery.key_source != "idp":
        return None
    return (
        f"{_WARNING_PREFIX} the authorizer runs in {vpc.vpc_id} (subnets {', '.join(vpc.subnet_ids)}) with "
        f"keySource idp: {', '.join(issuers_of(rules))} must be reachable from those subnets (NAT or proxy), "
        "or use keySource ssm"
    )
