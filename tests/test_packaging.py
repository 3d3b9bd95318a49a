"""The distribution: metadata, entry point, and what the wheel ships."""

import subprocess
import sys
import zipfile
from importlib.metadata import distribution, entry_points

from packaging.requirements import Requirement

import saleor_support_plugin

# Saleor 3.24's own pins (uv.lock of saleor/saleor at 723cd4e, 3.24.0-a.0):
# installing the plugin into a Saleor environment must keep every one of them.
SALEOR_PINS = {
    "django": "5.2.17",
    "graphene": "2.1.9",
    "graphql-core": "2.3.2",
    "graphql-relay": "2.0.1",
    "celery": "5.6.3",
    "psycopg": "3.3.4",
    "nh3": "0.3.2",
    "pyjwt": "2.13.0",
    "cryptography": "49.0.0",
    "requests-hardened": "1.3.0b1",
}
# Dependencies Saleor does not have: installing them adds packages and changes
# none of Saleor's (tests/saleor/test_plugin_in_saleor.py checks that in a real
# Saleor environment). matplotlib draws the weekly report's charts.
NEW_DEPENDENCIES = {"matplotlib"}


def test_entry_point_names_the_app_package_and_the_plugin_class():
    (entry_point,) = [
        ep
        for ep in entry_points(group="saleor.plugins")
        if ep.name == "saleor_support_plugin"
    ]
    assert entry_point.value == "saleor_support_plugin.plugin:SupportPlugin"
    assert entry_point.name == saleor_support_plugin.__name__


def test_requirements_admit_saleors_pins():
    requirements = [
        Requirement(text)
        for text in distribution("saleor-support-plugin").requires or []
    ]
    runtime = [req for req in requirements if req.marker is None]
    for req in runtime:
        if req.name.lower() in NEW_DEPENDENCIES:
            continue
        pinned = SALEOR_PINS.get(req.name.lower())
        assert pinned is not None, (
            f"{req.name} is not one of Saleor's dependencies: check its pin"
        )
        assert req.specifier.contains(pinned), (
            f"{req} excludes Saleor's {req.name}=={pinned}"
        )


def test_python_requirement_is_saleors():
    assert (
        distribution("saleor-support-plugin").metadata["Requires-Python"]
        == "<3.13,>=3.12"
    )


def test_wheel_ships_migrations_templates_and_entry_point(tmp_path):
    # when
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        check=True,
        capture_output=True,
    )
    # then
    (wheel,) = tmp_path.glob("saleor_support_plugin-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "saleor_support_plugin/migrations/__init__.py" in names
    assert "saleor_support_plugin/plugin.py" in names
    assert "saleor_support_plugin/py.typed" in names
    assert not any(name.startswith(("tests/", "sandbox/")) for name in names)
    entry_points_txt = next(name for name in names if name.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points_txt).decode()
    assert "[saleor.plugins]" in text
    assert "saleor_support_plugin = saleor_support_plugin.plugin:SupportPlugin" in text
