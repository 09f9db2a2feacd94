"""requirements.txt (what `make` installs) and pyproject.toml pin the same versions."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return dict(re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", line.strip()).groups() for line in lines)


def test_requirements_and_pyproject_agree():
    requirements = pins(
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = pins(project["dependencies"] + project["optional-dependencies"]["test"])
    assert declared == requirements
    assert requirements["torch"] == "2.14.1" and requirements["torchvision"] == "0.29.1"


def test_the_guide_s_tensorboard_command_starts():
    """`tensorboard --logdir outputs/sft/runs` (the guide's 监控训练): its CLI imports pkg_resources."""
    import subprocess
    import sys

    tensorboard = Path(sys.executable).parent / "tensorboard"
    done = subprocess.run([str(tensorboard), "--version_tb"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    requirements = pins(
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert done.stdout.strip() == requirements["tensorboard"]
