"""The README's configuration reference is generated from the config models (``make docs``) and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline import config_reference
from offline.config_reference import BEGIN, END, ROOT, main, render, secret_rows, settings_rows, stack_rows
from stacks import config, registry

# Fields of stacks/config.py shown without a description. Their owner adds `description=` there; then the
# field leaves this list (the test below fails until it does, so the list only shrinks).
UNDESCRIBED_STACK_KEYS: set[str] = set()  # every stack config field has a description


def readme_section(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    assert start >= 0 and end > start, f"README.md lacks the markers {BEGIN!r} ... {END!r}"
    return text[start : end + len(END)]


def test_readme_configuration_reference_is_current() -> None:
    section = readme_section((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section == render(), (
        "README.md's configuration reference differs from the config models; run `make docs` and commit README.md"
    )


def test_the_reference_replaced_the_hand_written_table() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "| key | default | what it is |" not in text


def test_every_stack_config_key_is_listed_and_nothing_else() -> None:
    top_level = {row.key for row in stack_rows() if "." not in row.key and "[" not in row.key}
    assert top_level == config._config_keys()


def test_nested_models_are_walked_with_camel_case_keys() -> None:
    keys = {row.key for row in stack_rows()}
    assert {
        "network.cidr",
        "tls.mode",
        "listen.httpsPort",
        "policy.enforcement",
        "policy.waivers[].approvedBy",
        "aws.hostedZoneId",
        "hostGpus.model",
        "overrides.<system>.services.<service>.image",
        "overrides.<system>.services.<service>.gpu.minVramGb",
        "budgetUsdPerMonth",
        "imageMap",
    } <= keys
    assert not any("_" in key for key in keys), "keys are camelCase, as in the stack file"


def test_types_defaults_and_bounds_come_from_the_models() -> None:
    rows = {row.key: row for row in stack_rows()}
    assert rows["network.cidr"].default == "`10.42.0.0/16`"
    assert rows["domain"].default == "required"
    assert rows["aws"].default == "unset"
    assert rows["aws.waf"].type == "boolean" and rows["aws.waf"].default == "`true`"
    assert rows["aws.zones"].type == "integer (2 to 3)"
    assert rows["cloud"].type == "`onprem` or `aws` or `gcp`"
    assert rows["policy.waivers"].type == "list of object" and rows["policy.waivers"].default == "`[]`"
    assert rows["overrides.<system>.services.<service>.gpu"].type == "boolean or object"


def test_stack_config_fields_without_a_description_are_only_the_known_ones() -> None:
    undescribed = {row.key for row in stack_rows() if not row.description}
    new = sorted(undescribed - UNDESCRIBED_STACK_KEYS)
    assert not new, f"stacks/config.py fields without a description (add description=...): {new}"
    fixed = sorted(UNDESCRIBED_STACK_KEYS - undescribed)
    assert not fixed, f"these now have a description; remove them from UNDESCRIBED_STACK_KEYS: {fixed}"


def test_every_system_setting_has_a_description() -> None:
    rows = settings_rows()
    assert set(rows) == set(registry.SYSTEMS)
    missing = [f"{system}: {row.key}" for system, found in rows.items() for row in found if not row.description]
    assert not missing, f"describe these Settings fields (Field(..., description=...)): {missing}"


def test_every_config_secret_is_listed_with_its_description() -> None:
    rows = {row.key: row for row in secret_rows()}
    expected = dict(config.FOUNDATION_SECRET_KEYS) | registry.config_secret_keys()
    assert {key: row.description for key, row in rows.items()} == expected
    assert all(row.description for row in rows.values())
    assert rows["neurocore-openai-api-key"].default == "required"
    assert rows["claims-agent-sentry-dsn"].default == "unset"


def test_every_system_has_a_docs_page() -> None:
    for name in registry.SYSTEMS:
        assert (ROOT / "docs" / "systems" / f"{name}.md").is_file(), f"docs/systems/{name}.md is missing"


def test_cells_escape_pipes_and_angle_brackets_outside_code() -> None:
    table = config_reference._table([config_reference.Row("a.b", "x | y", "`<v>`", "route <host>.`<domain>`")], "key")
    assert table[-1] == "| `a.b` | x \\| y | `<v>` | route &lt;host&gt;.`<domain>` |"


def test_check_mode_and_rewrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{BEGIN}\nstale\n{END}\n\nafter\n", encoding="utf-8")
    assert main(["--readme", str(readme), "--check"]) == 1
    assert "run `make docs`" in capsys.readouterr().err
    assert main(["--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert readme_section(text) == render()
    assert main(["--readme", str(readme), "--check"]) == 0


def test_a_readme_without_markers_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n", encoding="utf-8")
    assert main(["--readme", str(readme)]) == 2
    assert "markers" in capsys.readouterr().err
    assert readme.read_text(encoding="utf-8") == "# Title\n"


def test_make_docs_runs_the_generator() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\ndocs: venv\n\t$(PY) -m offline.config_reference\n" in makefile
    assert "docs" in makefile.split(".PHONY:", 1)[1].splitlines()[0].split()
