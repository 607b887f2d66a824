"""`memmap-tui check` output for people and CI systems: text, JSON (memmap-tui/check/1),
SARIF 2.1.0 (GitHub code scanning, GitLab) and JUnit XML (Jenkins, GitLab test reports).

Each takes the same `CheckResult` list; finding codes are the stable rule ids.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib.metadata import version

from memmap_tui.core.model import Finding, Level

SARIF_LEVEL = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True, slots=True)
class CheckResult:
    path: str
    findings: tuple[Finding, ...]
    failing: tuple[Finding, ...]     # the findings that fail the check (errors, + warnings with --strict)
    error: str | None = None         # the file could not be read as a device tree (bad input)

    @property
    def ok(self) -> bool:
        return not self.failing and self.error is None


def to_text(results: list[CheckResult], styled) -> str:
    """`styled(text, fg)` colours a word (click.style); plain when piped."""
    out = []
    for r in results:
        if r.error is not None:
            out.append(f"{styled('ERROR', 'red')} {r.path}")
            continue
        out.append(f"{styled('ok', 'green') if r.ok else styled('FAIL', 'red')} {r.path}")
        out += [f"  {f.level}: [{f.code}] {f.message}" for f in r.findings]
    return "\n".join(out) + "\n"


def to_json(results: list[CheckResult]) -> str:
    return json.dumps({"schema": "memmap-tui/check/1",
                       "results": [{"file": r.path, "ok": r.ok, "findings": [f.as_dict() for f in r.findings],
                                    **({"error": r.error} if r.error is not None else {})}
                                   for r in results]}, indent=1) + "\n"


def to_sarif(results: list[CheckResult]) -> str:
    codes = sorted({f.code for r in results for f in r.findings} | ({"input-error"} if any(r.error for r in results) else set()))
    sarif_results = []
    for r in results:
        if r.error is not None:
            sarif_results.append({"ruleId": "input-error", "level": "error", "message": {"text": r.error},
                                  "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.path}}}]})
        for f in r.findings:
            location = {"physicalLocation": {"artifactLocation": {"uri": r.path}}}
            if f.id:
                location["logicalLocations"] = [{"fullyQualifiedName": f.id, "kind": "member"}]
            sarif_results.append({"ruleId": f.code, "ruleIndex": codes.index(f.code),
                                  "level": SARIF_LEVEL[f.level], "message": {"text": f.message},
                                  "locations": [location]})
    doc = {"version": "2.1.0", "$schema": SARIF_SCHEMA,
           "runs": [{"tool": {"driver": {"name": "memmap-tui", "version": version("memmap-tui"),
                                         "rules": [{"id": c, "name": c} for c in codes]}},
                     "results": sarif_results}]}
    return json.dumps(doc, indent=1) + "\n"


def to_junit(results: list[CheckResult]) -> str:
    """One test case per file; a failing file carries one <failure> per failing finding."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="memmap-tui check", tests=str(len(results)),
                          failures=str(sum(not r.ok and r.error is None for r in results)),
                          errors=str(sum(r.error is not None for r in results)))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="memmap-tui.check", name=r.path)
        if r.error is not None:
            ET.SubElement(case, "error", message=r.error, type="input-error")
        for f in r.failing:
            failure = ET.SubElement(case, "failure", message=f"[{f.code}] {f.message}", type=f.code)
            failure.text = f"{f.level}: [{f.code}] {f.message}" + (f" ({f.id})" if f.id else "")
        others = [f for f in r.findings if f not in r.failing]
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(f"{f.level}: [{f.code}] {f.message}" for f in others)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


FORMATS = {"json": to_json, "sarif": to_sarif, "junit": to_junit}
