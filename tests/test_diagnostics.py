"""One diagnostic for every layer: how bad, which code, what and why, about which object, declared where."""

from __future__ import annotations

from reconciler.core.diagnostics import Diagnostic, Severity
from reconciler.core.errors import ManifestError


def test_a_manifest_problem_renders_as_before_and_is_an_error() -> None:
    found = Diagnostic("m.yaml", 7, "key", "no key 'k' is declared in region 'eastus'", "E-REFERENCE")
    assert found.render() == "m.yaml:7: key: no key 'k' is declared in region 'eastus' [E-REFERENCE]"
    assert (found.severity, found.code) == (Severity.ERROR, "E-REFERENCE")
    assert str(ManifestError([found])) == found.render()


def test_json_names_severity_code_summary_detail_address_and_source() -> None:
    notice = Diagnostic("m.yaml", None, "", "databases keep their key", "W-ASTRA-EXISTING-DATABASES",
                        severity=Severity.WARNING, detail="3 of them", address="astra_registration.eastus.serverless")
    assert notice.as_dict() == {
        "severity": "warning", "code": "W-ASTRA-EXISTING-DATABASES", "summary": "databases keep their key",
        "detail": "3 of them", "address": "astra_registration.eastus.serverless",
        "source": {"file": "m.yaml", "line": None, "field": ""}}
    assert notice.render() == "m.yaml: databases keep their key [W-ASTRA-EXISTING-DATABASES]"
