"""docs/native-vs-lambda.md from the corpus results: deterministic text, nothing measured in wall time.

The explanations are fixed sentences keyed by reason code (the gate's decision-log vocabulary, the native
model's rules), so the document changes only when an outcome, a case or a rule does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from compare.corpus import FLOOD_SIZE, GROUPS
from compare.run import CaseResult
from compare.world import (
    AUDIENCES,
    GATE_ALGORITHMS,
    GATE_TIMINGS,
    NATIVE_ALGORITHMS,
    NOW,
    PUBLIC_ROUTES,
    SCOPE_RULES,
    TOKEN_TYPES,
    Observation,
    resource_path,
)
from local.native_jwt import RULES_BY_CODE, Rule

# Why the gate decided as it did, by its decision-log reason (gateway reasons for requests it never saw).
GATE_WHY: Final = {
    "bad_signature": "the signature does not verify with the issuer's key of that `kid`",
    "unsupported_alg": f"`alg` is not in `algorithms` ({', '.join(GATE_ALGORITHMS)}); `none` and HS* never "
    "are",
    "issuer_mismatch": "`iss` is not the configured issuer (exact match)",
    "audience_mismatch": "`aud` holds none of the configured audiences",
    "missing_claim": "a claim of `requiredClaims` (`iss,aud,exp,sub`) is absent",
    "token_type_mismatch": f"the header's `typ` is not one of `tokenTypes` ({', '.join(TOKEN_TYPES)})",
    "unsupported_crit": "the header has `crit`, and no JWS extension is understood (RFC 7515 section 4.1.11)",
    "invalid_claim": "a date claim is not a JSON number",
    "malformed_token": "not exactly one canonical compact JWS: duplicate JSON members and non-canonical "
    "base64url are refused",
    "expired": "`exp` lies more than `leewaySeconds` (60 s) in the past",
    "not_yet_valid": "`nbf` lies more than 60 s ahead",
    "issued_in_future": "`iat` lies more than 60 s ahead",
    "identity_missing": "an identity source of the REQUEST authorizer (the `Authorization` header) is "
    "missing: API Gateway answers 401 without invoking the function",
    "malformed_authorization": "the header is not `Bearer <token>` (the scheme in any case, then spaces)",
    "insufficient_scope": "the token lacks a scope the route's rule needs (every one of them): the policy "
    "denies the route",
    "unknown_kid": "no key has that `kid`: the key set was refetched for the first unknown `kid`, and "
    "`jwksRefetchCooldownSeconds` (10 s) allows no second refetch yet",
    "keys_unavailable": "no usable key (the identity provider does not answer and nothing is cached): a "
    "function error, AUTHORIZER_FAILURE, which the stack answers with 503 and `Retry-After`",
}
STATUS_TEXT: Final = {"allowed": "", "UNAUTHORIZED": " UNAUTHORIZED", "ACCESS_DENIED": " ACCESS_DENIED"}
VERDICTS: Final = (
    ("native-allows", "Native lets through what the gate refuses"),
    ("gate-allows", "The gate lets through what native refuses"),
    ("different", "Both refuse, with different answers"),
    ("same", "Same answer"),
)
EVIDENCE: Final = {
    "REST": "documented for REST APIs",
    "HTTP API": "documented for HTTP APIs only",
    "assumed": "**assumed**, the pages are silent",
}


def _outcome(observation: Observation) -> str:
    return (
        f"{observation.status}{STATUS_TEXT.get(observation.response_type, ' ' + observation.response_type)}"
    )


def _rule_link(rule: Rule) -> str:
    return f"[`{rule.code}`]({rule.source}) ({EVIDENCE[rule.evidence]})"


def _scopes_of(route: str) -> str | None:
    """The scope rule of a route as API Gateway names it ("GET /items/{proxy+}"); None for a public route."""
    for key, scopes in SCOPE_RULES.items():
        verb, path = key.split(" ", 1)
        if route == f"{verb} {resource_path(path)}":
            return scopes
    return None


def gate_why(observation: Observation) -> str:
    if observation.authorizer == "none":
        return "a public route: no authorizer"
    if observation.reason == "ok":
        scopes = _scopes_of(observation.route)
        if not scopes:
            return 'valid; the route\'s rule is `""` (any valid token)'
        return f"valid, with every scope the route's rule needs (`{scopes}`)"
    return GATE_WHY.get(observation.reason, "see the decision log reason")


def native_why(observation: Observation) -> str:
    if observation.authorizer == "none":
        return "a public route: no authorizer"
    if observation.reason == "ok":
        scopes = _scopes_of(observation.route)
        if not scopes:
            return (
                "valid: signature, `iss`, audience, dates and the required `sub` hold; no AuthorizationScopes"
            )
        return (
            "valid: signature, `iss`, audience, dates and the required `sub` hold, and the token carries "
            f"one of the method's AuthorizationScopes (`{'`, `'.join(scopes.split())}`)"
        )
    rule = RULES_BY_CODE.get(observation.rule or "")
    return rule.statement if rule is not None else observation.reason


def native_rules(result: CaseResult) -> list[Rule]:
    """The model's rules the native outcome rests on: the deciding one, then the case's."""
    codes = [result.native.observation.rule] if result.native.observation.reason != "ok" else []
    codes += [code for code in result.case.native_rules if code not in codes]
    return [RULES_BY_CODE[code] for code in codes if code]


def assumed(result: CaseResult) -> bool:
    return any(rule.evidence == "assumed" for rule in native_rules(result))


def _anchor(case_id: str) -> str:
    return f"case-{case_id}"


def _summary_row(result: CaseResult) -> str:
    mark = " †" if assumed(result) else ""
    gate, native = result.gate.observation, result.native.observation
    return (
        f"| [{result.case.title}](#{_anchor(result.case.id)}) | {_outcome(gate)} `{gate.reason}` | "
        f"{_outcome(native)} `{native.reason}`{mark} |"
    )


def _configuration() -> list[str]:
    timings = GATE_TIMINGS
    rows = [
        "| setting | Lambda gate (environment as the stack writes it) | native authorizer "
        "(JwtConfiguration, methods) |",
        "| --- | --- | --- |",
        "| issuer | the loopback identity provider | the same, one `Issuers` entry |",
        f"| audiences | `{'`, `'.join(AUDIENCES)}` | the same `Audiences` |",
        f"| algorithms | {', '.join(GATE_ALGORITHMS)} (what the issuer signs with) | "
        f"{', '.join(NATIVE_ALGORITHMS)} (`DefaultAlgorithms` cannot hold PS* or EdDSA) |",
        f"| token types | `tokenTypes` {', '.join(TOKEN_TYPES)} | no such setting |",
        "| required claims | `iss,aud,exp,sub` | `sub` as a required `AdditionalClaims` entry (the rest is "
        "built in) |",
        f"| clock skew | {timings['LEEWAY_SECONDS']} s | not configurable (model: none) |",
        f"| keys | fresh {timings['JWKS_CACHE_SECONDS']} s, then stale up to "
        f"{timings['JWKS_MAX_STALE_SECONDS']} s while refreshes fail; one unknown-`kid` refetch per "
        f"{timings['JWKS_REFETCH_COOLDOWN_SECONDS']} s | not configurable (model: up to 1 h, a refetch for "
        "every unknown `kid`) |",
    ]
    rows += [
        "",
        "| route | Lambda rule (all scopes needed) | native method (`AuthorizationScopes`, any one) |",
    ]
    rows += ["| --- | --- | --- |"]
    for key, scopes in SCOPE_RULES.items():
        native = ", ".join(f"`{s}`" for s in scopes.split()) or "none (any valid token)"
        rows.append(f'| `{key}` | `"{scopes}"` | {native} |')
    rows += [f"| `{key}` | public | public |" for key in PUBLIC_ROUTES]
    return rows


def render(results: Sequence[CaseResult]) -> str:
    clock = datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    by_verdict = {verdict: [r for r in results if r.verdict == verdict] for verdict, _ in VERDICTS}
    out = [
        "# Native JWT authorizer or the Lambda gate: the measured differential",
        "",
        "<!-- Written by `make compare` (compare/); do not edit. tests/compare/test_compare.py fails when "
        "this file is not what a fresh run writes. -->",
        "",
        f"One hostile corpus of {len(results)} cases, run through the same API translated two ways: behind "
        "the Lambda gate (`gate=lambda`) and behind API Gateway's native JWT authorizer (what "
        "`gate=native` uses). Which mode to pick: [native-jwt.md](native-jwt.md#which-mode-for-which-need) "
        "and the README's decision guide; the end of this page sums up what the cases say.",
        "",
        "## How it was measured",
        "",
        "- **Both sides** run behind the local API Gateway emulator (`local/gateway.py`): the same routes, "
        "MOCK integrations, the stack's gateway responses (401 UNAUTHORIZED and 403 ACCESS_DENIED with "
        "`WWW-Authenticate`, 503 with `Retry-After` for AUTHORIZER_FAILURE), so a status here is what a "
        "client would see.",
        "- **Lambda gate**: `lambda_src/authorizer` in-process as `handler.py` runs it (keys prefetched at "
        "the cold start; a rejection is the error `Unauthorized`, any other failure a function error), "
        "behind the stack's REQUEST authorizer (identity sources: the `Authorization` header, verb and "
        "route; results cached 300 s). Its reason is its decision-log reason.",
        "- **Native**: `local/native_jwt.py`, a model of the documented behaviour of the native JWT "
        "authorizer for REST APIs, written without the gate's code. Every rule cites the AWS page it comes "
        "from ([local/README.md](../local/README.md#the-native-jwt-authorizer-model)); where the pages are "
        "silent the model assumes, and every outcome that rests on an assumption is marked †. **It is a "
        "model of the documentation, not a measurement of AWS.** Its reason is the rule that decided.",
        "- **Keys and time**: a real identity provider on 127.0.0.1 serving discovery and a JWKS "
        "(RSA-2048, P-256, RSA-PSS and Ed25519 keys generated per run) and counting every request; a clock "
        f"fixed at {clock} and moved only where a case says so. Each case runs on fresh sides: cold caches, "
        "their own identity provider.",
        "",
        "### One configuration, translated both ways",
        "",
        *_configuration(),
        "",
        "`gate=native` refuses the PS256/EdDSA algorithms, `tokenTypes` and the two-scope rule, and "
        "`gate=auto` keeps such routes on the Lambda. The native side here is the translation synth would "
        "write if it did not refuse: the cases measure what those refusals protect against, and what "
        "remains on routes that are legitimately native.",
        "",
        "## Summary",
        "",
        f"{len(results)} cases. In {len(by_verdict['native-allows'])} native lets through what the gate "
        f"refuses, in {len(by_verdict['gate-allows'])} the gate lets through what native refuses, in "
        f"{len(by_verdict['different'])} both refuse with different answers, and {len(by_verdict['same'])} "
        "get the same answer.",
    ]
    for verdict, title in VERDICTS:
        chosen = by_verdict[verdict]
        out += ["", f"### {title} ({len(chosen)})", ""]
        if not chosen:
            out.append("None.")
            continue
        out += ["| case | Lambda gate | native |", "| --- | --- | --- |"]
        out += [_summary_row(result) for result in chosen]
    out += ["", "† the native outcome rests on a rule the AWS pages do not document (see the case)."]
    out += ["", "## Which mode for which need", "", which_mode(results)]
    out += ["", "## The cases"]
    for group in GROUPS:
        members = [r for r in results if r.case.group == group]
        if not members:
            continue
        out += ["", f"### {group}"]
        for result in members:
            out += ["", *_case_section(result)]
    out += [
        "",
        "## The native model's rules",
        "",
        "| rule | what the model does | evidence |",
        "| --- | --- | --- |",
    ]
    for rule in sorted({r for result in results for r in native_rules(result)}, key=lambda r: r.code):
        out.append(f"| [`{rule.code}`]({rule.source}) | {rule.statement} | {EVIDENCE[rule.evidence]} |")
    out += ["", "All rules, including those no case here turns on: [local/README.md](../local/README.md)."]
    return "\n".join(out) + "\n"


def _case_section(result: CaseResult) -> list[str]:
    case = result.case
    gate, native = result.gate.observation, result.native.observation
    lines = [
        f'<a id="{_anchor(case.id)}"></a>',
        f"#### {case.title}" + (" †" if assumed(result) else ""),
        "",
        f"- **Sent**: {case.sent}",
        f"- **Lambda gate**: **{_outcome(gate)}** `{gate.reason}`: {gate_why(gate)}.",
        f"- **Native**: **{_outcome(native)}** `{native.reason}`: {native_why(native).rstrip('.')}.",
    ]
    rules = native_rules(result)
    if rules:
        lines.append("  Rests on " + ", ".join(_rule_link(rule) for rule in rules) + ".")
    if case.counted:
        lines.append(
            f"- **Identity-provider requests** {case.counted}: Lambda gate {result.gate.idp_requests}, "
            f"native {result.native.idp_requests}."
        )
    lines.append(f"- **What it shows**: {case.shows}")
    return lines


def which_mode(results: Sequence[CaseResult]) -> str:
    """The closing paragraph; the numbers in it come from the results."""
    flood = next((r for r in results if r.case.id == "unknown-kid-flood"), None)
    flood_text = ""
    if flood is not None:
        flood_text = (
            f", and the identity provider's load under a kid flood ({FLOOD_SIZE} unknown kids: "
            f"{flood.gate.idp_requests} key-set request(s) from the Lambda, {flood.native.idp_requests} "
            "from the model, which takes the documented refetch literally)"
        )
    return (
        "Where both sides give the same answer (valid tokens, forged or tampered signatures, `alg: none` "
        "and key confusion, wrong issuer or audience, expired tokens, one-scope and overlapping routes, "
        "key rotation, short outages), the native authorizer is enough and costs no function: pick "
        "`native` for an API whose issuer is public and signs RS or ES, and whose routes need at most one "
        "scope each. The Lambda buys something where native lets a token through: ID tokens and other "
        "non-access tokens (no `typ` check), rules that need every one of several scopes, a `client_id` "
        "standing in for a missing `aud`, and (†, undocumented natively) `iat` in the future, `crit`, "
        f"duplicate claims and second spellings{flood_text}. It also answers an identity-provider outage "
        "with 503 instead of 401, keeps serving known keys through a long one, and accepts PS256 and EdDSA "
        "issuers; the price is a 10 s window after a kid flood in which a freshly rotated key is refused "
        "too. Pick `auto` to pay for the Lambda only on the routes that need it, and `lambda` when a need "
        "applies to every route (token types, algorithms, key control, decision logs); "
        "[native-jwt.md](native-jwt.md#which-mode-for-which-need) has the full table and the README its "
        "short version."
    )
