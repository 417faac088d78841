"""``report.sarif``: the review as SARIF 2.1.0, for code scanning and other SARIF viewers.

One run. ``tool.driver.rules`` is the rule catalogue (help text, HIPAA and
NIST tags, severity, family, the rule's level on this stack) plus one
``expired-waiver`` rule for waivers past their date. There is one result per
violation; waived ones carry an accepted external suppression with the
approver, the reason and the date. Each result names the resource (logical
location: Pulumi URN and name) and points at the stack file, at the line of
the waiver or override that concerns the rule when there is one, so a code
scanning alert opens where the stack's decision about it is written.

Levels: a mandatory rule's violation is ``error``; an advisory one is
``warning`` for critical/high and ``note`` for medium/low severity.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from offline.harness import ROOT
from offline.report import Check, ComplianceReport, Control, RuleInfo, WaiverEntry

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "clinical-platform-compliance"
EXPIRED_WAIVER_RULE = "expired-waiver"
# GitHub code scanning ranks security alerts by this 0-10 score.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def level(severity: str, enforcement: str) -> str:
    """SARIF level of a violation of a rule at ``enforcement`` with ``severity``."""
    if enforcement == "mandatory":
        return "error"
    if enforcement == "disabled":
        return "none"
    return "warning" if severity in ("critical", "high") else "note"


def help_uri(hipaa: str) -> str:
    """The eCFR page of the HIPAA paragraph a rule cites, e.g. 45 CFR 164.312(a)(2)(iv)."""
    match = re.search(r"164\.(\d+)((?:\([0-9a-zA-Z]+\))*)", hipaa)
    if not match:
        return "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-C"
    section = f"164.{match.group(1)}"
    return f"https://www.ecfr.gov/current/title-45/section-{section}#p-{section}{match.group(2)}"


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", name) if part)


def _descriptor(rule: RuleInfo, enforcement: str) -> dict[str, Any]:
    # SARIF wants unique tags; a rule's own tags may repeat its family.
    tags = list(
        dict.fromkeys(["security", "HIPAA", rule.family, rule.hipaa, *([rule.nist] if rule.nist else []), *rule.tags])
    )
    rule_level = level(rule.severity, enforcement)
    text = (
        f"{rule.description}\n\nRemediation: {rule.remediation}\n\nHIPAA: {rule.hipaa}\n"
        + (f"NIST: {rule.nist}\n" if rule.nist else "")
        + f"Severity: {rule.severity}; enforcement on this stack: {enforcement}."
    )
    markdown = (
        f"{rule.description}\n\n**Remediation:** {rule.remediation}\n\n"
        f"**HIPAA:** {rule.hipaa}  \n**NIST:** {rule.nist or '-'}  \n"
        f"**Severity:** {rule.severity}; **enforcement on this stack:** {enforcement}"
    )
    return {
        "id": rule.name,
        "name": _pascal(rule.name),
        "shortDescription": {"text": rule.description},
        "fullDescription": {"text": f"{rule.description} ({rule.hipaa})"},
        "help": {"text": text, "markdown": markdown},
        "helpUri": help_uri(rule.hipaa),
        "defaultConfiguration": {
            "enabled": enforcement != "disabled",
            "level": rule_level,
        },
        "properties": {
            "tags": tags,
            "severity": rule.severity,
            "family": rule.family,
            "hipaa": rule.hipaa,
            "nist": rule.nist,
            "enforcement": enforcement,
            "defaultEnforcement": rule.default_enforcement,
            "resourceTypes": list(rule.resource_types),
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": "high",
            "problem.severity": rule_level if rule_level in ("error", "warning") else "recommendation",
        },
    }


def _expired_descriptor() -> dict[str, Any]:
    return {
        "id": EXPIRED_WAIVER_RULE,
        "name": "ExpiredWaiver",
        "shortDescription": {"text": "A policy waiver in the stack file is past its expiry date."},
        "fullDescription": {"text": "An expired waiver no longer covers its resources and fails the review."},
        "help": {
            "text": "Fix the resource, or renew the waiver with a new expiry date and a fresh approval.",
            "markdown": "Fix the resource, or renew the waiver with a new `expires` date and a fresh approval.",
        },
        "helpUri": help_uri("45 CFR 164.308(a)(1)(ii)(B)"),
        "defaultConfiguration": {"enabled": True, "level": "error"},
        "properties": {
            "tags": ["security", "HIPAA", "governance"],
            "severity": "high",
            "family": "governance",
            "security-severity": SECURITY_SEVERITY["high"],
            "precision": "high",
            "problem.severity": "error",
        },
    }


class StackFileLines:
    """Line numbers in Pulumi.<stack>.yaml of the policy settings a result is about (from the YAML node marks)."""

    def __init__(self, text: str) -> None:
        self.policy: int | None = None
        self.overrides: dict[str, int] = {}
        self.waivers: list[tuple[str, str, int]] = []  # (rule, resource pattern, line)
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            return
        config = _child(root, "config")
        policy = _child(config, "clinical-platform:policy")
        if policy is None:
            return
        self.policy = _key(config, "clinical-platform:policy").start_mark.line + 1  # type: ignore[union-attr]
        overrides = _child(policy, "overrides")
        if isinstance(overrides, yaml.MappingNode):
            self.overrides = {str(k.value): k.start_mark.line + 1 for k, _ in overrides.value}
        waivers = _child(policy, "waivers")
        if isinstance(waivers, yaml.SequenceNode):
            for item in waivers.value:
                rule, resource = _child(item, "rule"), _child(item, "resource")
                if isinstance(rule, yaml.ScalarNode) and isinstance(resource, yaml.ScalarNode):
                    self.waivers.append((str(rule.value), str(resource.value), item.start_mark.line + 1))

    def waiver(self, waiver: WaiverEntry) -> int | None:
        """1-based line where the waiver's list item starts."""
        return next((line for r, res, line in self.waivers if (r, res) == (waiver.rule, waiver.resource)), None)

    def line_for(self, rule: str, waiver: WaiverEntry | None) -> int:
        """The waiver's line, else the rule's override, else the policy key, else 1."""
        found = self.waiver(waiver) if waiver else None
        return found or self.overrides.get(rule) or self.policy or 1


def _key(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The key node ``key`` of a YAML mapping node (None when absent or not a mapping)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((k for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a YAML mapping node (None when absent or not a mapping)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _artifact_uri(stack_file: str) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative to the repository root when the file is inside it."""
    path = Path(stack_file)
    return (path.as_posix(), "%SRCROOT%") if not path.is_absolute() else (path.as_uri(), None)


def _location(report: ComplianceReport, line: int, name: str | None = None, urn: str | None = None) -> dict[str, Any]:
    uri, base = _artifact_uri(report.stack_file)
    artifact: dict[str, Any] = {"uri": uri, **({"uriBaseId": base} if base else {})}
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": line}}}
    if name and urn:  # a stack rule's finding about the whole stack has no URN
        location["logicalLocations"] = [{"name": name, "fullyQualifiedName": urn, "kind": "resource"}]
    return location


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _results(report: ComplianceReport, control: Control, index: int, lines: StackFileLines) -> list[dict[str, Any]]:
    results = []
    for check in control.checks:
        if check.verdict not in ("fail", "waived"):
            continue
        results += [_result(report, control, index, lines, check, message) for message in check.messages]
    return results


def _result(
    report: ComplianceReport, control: Control, index: int, lines: StackFileLines, check: Check, message: str
) -> dict[str, Any]:
    rule = control.rule
    suppressions = []
    if check.verdict == "waived" and check.waiver is not None:
        w = check.waiver
        suppressions.append(
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"Waived until {w.expires} by {w.approved_by}: {w.reason}",
                "properties": {
                    "approvedBy": w.approved_by,
                    "expires": w.expires.isoformat(),
                    "resourcePattern": w.resource,
                },
            }
        )
    return {
        "ruleId": rule.name,
        "ruleIndex": index,
        "kind": "fail",
        "level": level(rule.severity, control.enforcement),
        "message": {"text": f"{message}. Fix: {rule.remediation}"},
        "locations": [_location(report, lines.line_for(rule.name, check.waiver), check.resource_name, check.urn)],
        "partialFingerprints": {"clinicalPlatformFinding/v1": _fingerprint(rule.name, check.urn, message)},
        "suppressions": suppressions,  # empty: the result is known not to be suppressed
        "properties": {
            "severity": rule.severity,
            "enforcement": control.enforcement,
            "blocking": check.blocking,
            "resourceType": check.resource_type,
            "system": check.system,
            "owner": check.owner,
            "hipaa": rule.hipaa,
            "family": rule.family,
            "waiverExpired": check.waiver is not None and check.waiver.status == "expired",
        },
    }


def to_sarif(report: ComplianceReport, stack_text: str | None = None) -> dict[str, Any]:
    """The SARIF log of ``report``; ``stack_text`` is the stack file's text (read from disk by default)."""
    if stack_text is None:
        path = Path(report.stack_file)
        path = path if path.is_absolute() else ROOT / path
        stack_text = path.read_text() if path.exists() else ""
    lines = StackFileLines(stack_text)
    controls = report.controls
    rules = [_descriptor(c.rule, c.enforcement) for c in controls] + [_expired_descriptor()]
    results: list[dict[str, Any]] = []
    for index, control in enumerate(controls):
        results += _results(report, control, index, lines)
    for waiver in report.expired_waivers:
        results.append(
            {
                "ruleId": EXPIRED_WAIVER_RULE,
                "ruleIndex": len(controls),
                "kind": "fail",
                "level": "error",
                "message": {
                    "text": f"The waiver of {waiver.rule} for '{waiver.resource}' (approved by "
                    f"{waiver.approved_by}) expired on {waiver.expires}; fix the resource or renew it."
                },
                "locations": [_location(report, lines.waiver(waiver) or 1)],
                "partialFingerprints": {
                    "clinicalPlatformFinding/v1": _fingerprint(EXPIRED_WAIVER_RULE, waiver.rule, waiver.resource)
                },
                "suppressions": [],
                "properties": {"severity": "high", "enforcement": "mandatory", "blocking": True},
            }
        )
    notifications = [
        {
            "level": "warning",
            "message": {"text": note},
            "associatedRule": {"id": note.split(":", 1)[0].split(" on ", 1)[0]},
        }
        for note in report.not_run
    ]
    uri, base = _artifact_uri(report.stack_file)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "fullName": "Clinical platform HIPAA compliance policy pack (offline review)",
                "version": "1",
                "rules": rules,
                "properties": {"framework": "HIPAA Security Rule (45 CFR 164 Subpart C)"},
            }
        },
        "automationDetails": {"id": f"{TOOL_NAME}/{report.stack}/"},
        "invocations": [
            {
                "executionSuccessful": True,
                "exitCode": report.exit_code,
                "toolExecutionNotifications": notifications,
            }
        ],
        "artifacts": [
            {
                "location": {"uri": uri, **({"uriBaseId": base} if base else {})},
                "roles": ["analysisTarget", "userSpecifiedConfiguration"],
            }
        ],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "stack": report.stack,
            "environment": report.environment,
            "generatedOn": report.generated_on.isoformat(),
            "stackFileSha256": report.stack_file_sha256,
            "exitCode": report.exit_code,
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
