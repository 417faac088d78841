"""``junit.xml``: the review as JUnit XML for CI test reporters.

A ``testsuite`` per HIPAA safeguard and a ``testcase`` per rule x resource
(``classname`` = rule, ``name`` = resource). The mapping follows the
enforcement, so a reporter goes red exactly when the review blocks:

- mandatory violation: ``<failure type="mandatory">``;
- advisory violation: a passing test case with the finding in
  ``<system-out>`` (it warns, it does not block);
- waived: ``<skipped>`` with the waiver (who, until, why);
- not run, or rule disabled on the stack: ``<skipped>``.

Expired waivers fail the review, so each is a failing test case of an extra
``Waivers`` suite. The shape (``testsuites`` > ``testsuite`` > ``testcase``
with ``tests``/``failures``/``errors``/``skipped`` counts) is the one pytest
writes, which Jenkins, GitLab, Azure DevOps and GitHub test reporters read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from offline.report import Check, ComplianceReport, WaiverEntry


def _testcase(check: Check, remediation: str) -> ET.Element:
    case = ET.Element("testcase", classname=check.rule, name=check.resource_name, time="0")
    text = "\n".join(check.messages)
    if check.verdict == "fail" and check.enforcement == "mandatory":
        failure = ET.SubElement(case, "failure", type="mandatory", message="; ".join(check.messages))
        failure.text = f"{text}\nSeverity: {check.severity}\nFix: {remediation}\nResource: {check.urn}"
        if check.waiver is not None:
            failure.text += f"\nWaiver {check.waiver.describe()}"
    elif check.verdict == "fail":
        out = ET.SubElement(case, "system-out")
        out.text = f"ADVISORY ({check.severity}): {text}\nFix: {remediation}"
    elif check.verdict == "waived":
        why = f"waived {check.waiver.describe()}" if check.waiver is not None else "waived"
        ET.SubElement(case, "skipped", type="waived", message=why).text = text
    elif check.verdict == "not-run":
        ET.SubElement(case, "skipped", type="not-run", message="a property the rule reads is unknown until apply")
    elif check.verdict == "disabled":
        ET.SubElement(case, "skipped", type="disabled", message="rule disabled by the stack's policy settings")
    return case


def _suite(name: str, cases: list[ET.Element]) -> ET.Element:
    suite = ET.Element("testsuite", name=name, tests=str(len(cases)), errors="0", time="0")
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.extend(cases)
    return suite


def _expired(waiver: WaiverEntry) -> ET.Element:
    case = ET.Element("testcase", classname="waivers", name=f"{waiver.rule} on {waiver.resource}", time="0")
    failure = ET.SubElement(case, "failure", type="expired-waiver", message=f"expired on {waiver.expires}")
    failure.text = f"Waiver {waiver.describe()}\nFix the resource, or renew the waiver with a new date and approval."
    return case


def to_junit(report: ComplianceReport) -> ET.Element:
    """The ``<testsuites>`` element of ``report``."""
    root = ET.Element("testsuites", name=f"HIPAA compliance review of stack {report.stack}", time="0")
    for safeguard in report.safeguards:
        cases = [
            _testcase(check, control.rule.remediation) for control in safeguard.controls for check in control.checks
        ]
        root.append(_suite(safeguard.hipaa, cases))
    if report.expired_waivers:
        root.append(_suite("Waivers", [_expired(w) for w in report.expired_waivers]))
    for attribute in ("tests", "failures", "errors", "skipped"):
        root.set(attribute, str(sum(int(s.get(attribute, "0")) for s in root)))
    return root


def render_junit(report: ComplianceReport) -> str:
    """``junit.xml`` as text, with the XML declaration."""
    root = to_junit(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
