from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _make_fake_dist(site: Path, dist: str, version: str, entry_points: dict[str, str],
                   modules: dict[str, str]) -> Path:
    """A minimal installed distribution on ``site`` (a folder on PYTHONPATH): metadata with
    ``[luacoder]`` entry points plus its modules, as pip would leave it."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[luacoder]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    return site


@pytest.fixture
def fake_site(tmp_path: Path) -> Path:
    return tmp_path / "site"


def _run_luacoder(args: list[str], *, site: Path | None = None, env: dict | None = None,
                 cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(site)] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else []))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "luacoder_core", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=120)


@pytest.fixture
def make_fake_dist():
    return _make_fake_dist


@pytest.fixture
def run_luacoder():
    return _run_luacoder
