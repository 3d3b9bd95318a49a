import re
from pathlib import Path

from saleor_support_plugin.conf import FIELDS
from saleor_support_plugin.docs import render_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def test_configuration_reference_matches_config_structure():
    text = README.read_text()
    assert render_readme(text) == text, (
        "Run ./dev docs to regenerate the configuration reference."
    )
    for field in FIELDS:
        assert f"| `{field.name}` | {field.label} |" in text


def test_first_commands_are_run_and_test():
    commands = re.findall(r"^\./dev (\w+)", README.read_text(), flags=re.MULTILINE)
    assert commands[:2] == ["run", "test"]


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./dev test" in ci
