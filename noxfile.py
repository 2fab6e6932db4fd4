"""Sessions for the luacoder monorepo.

    nox -s tests                 # every package's fast tests, each in its own virtualenv
    nox -s "tests(eval)"         # one package; only what luacoder-eval declares is installed
    nox -s tests -- --run-slow   # also the slow tests (CI)
    nox -s isolation             # install each package from built wheels into an empty venv
    nox -s integration           # tests needing a sibling package, all four installed
    nox -s lint | demo | bench

Torch is installed first, pinned to the CPU wheel (torch==2.13.0), in every environment that
needs it; constraints.txt pins the rest to versions measured to work together.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = str(ROOT / "constraints.txt")
PACKAGES = ["core", "data", "train", "eval"]
NEEDS_TORCH = {"train", "eval"}
#: what must NOT be installed when only luacoder-core + this package are (DESIGN.md)
FORBIDDEN = {
    "core": ["torch", "transformers", "datasets", "trl", "peft", "deepspeed", "pandas"],
    "data": ["torch", "transformers", "trl", "peft", "deepspeed", "accelerate"],
    "train": ["deepspeed"],
    "eval": ["trl", "deepspeed", "datasets"],
}

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = not os.environ.get("CI")
nox.options.error_on_missing_interpreters = False


def package_dir(name: str) -> str:
    return str(ROOT / "packages" / f"luacoder-{name}")


def install(session: nox.Session, *args: str) -> None:
    session.install("-c", CONSTRAINTS, *args)


def install_torch(session: nox.Session) -> None:
    # first and alone: with no torch present a plain dependency would pull a multi-GB CUDA build
    install(session, "torch==2.13.0")


@nox.session
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """Run one package's tests in a virtualenv holding only what that package declares."""
    if package in NEEDS_TORCH:
        install_torch(session)
    extras = {"core": "[parquet,test]", "train": "[deepspeed]", "eval": "[test]",
              "data": "[test]"}.get(package, "")
    targets = ["-e", package_dir("core") + ("[parquet,test]" if package == "core" else "")]
    if package != "core":
        targets += ["-e", package_dir(package) + extras]
    install(session, *targets, "pytest")
    env = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "2"}
    session.run("pytest", f"packages/luacoder-{package}/tests", "-p", "no:cacheprovider",
                *session.posargs, env=env)


@nox.session
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def isolation(session: nox.Session, package: str) -> None:
    """Install core + one package from built wheels into an empty venv: the CLI works, shows the
    plugin, and nothing beyond what the package declares is installed."""
    dist = Path(session.create_tmp()) / "wheels"
    shutil.rmtree(dist, ignore_errors=True)
    sources = [package_dir("core")] + ([package_dir(package)] if package != "core" else [])
    session.run("pip", "wheel", "--no-deps", "--wheel-dir", str(dist), *sources, silent=True)
    if package in NEEDS_TORCH:
        install_torch(session)
    install(session, *[str(w) for w in sorted(dist.glob("*.whl"))])
    session.run("luacoder", "--version")
    session.run("luacoder", "--help", silent=True)
    plugins = json.loads(session.run("luacoder", "plugins", "--json", silent=True, log=False))
    loaded = {p["name"]: p for p in plugins}
    failed = [p for p in plugins if p["status"] != "loaded"]
    if failed:
        session.error(f"plugins failed to load: {failed}")
    if package != "core" and package not in loaded:
        session.error(f"plugin '{package}' not found in `luacoder plugins`: {sorted(loaded)}")
    if package == "core" and plugins:
        session.error(f"core alone should load no plugins, got {sorted(loaded)}")
    session.run("luacoder", *(["plugins"] if package == "core" else [package, "list"]))
    frozen = session.run("pip", "list", "--format=json", silent=True, log=False)
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(frozen)}
    leaked = sorted(set(FORBIDDEN[package]) & installed)
    if leaked:
        session.error(f"luacoder-{package} pulled in {leaked}, which it must not depend on")
    session.log(f"luacoder-{package}: {len(installed)} distributions installed, none of {FORBIDDEN[package]}")


@nox.session
def integration(session: nox.Session) -> None:
    """The tests marked ``integration``: one package's feature that needs a sibling installed
    beside it (grpo's ``lua_tests`` reward and ``eval_on_save`` from luacoder-eval, the teacher
    filter's sandbox and ``eval serve`` as a teacher), with all four packages installed as a user
    who wants them together would. The per-package sessions run the same tests without the
    sibling, where they skip or check the message that names the missing package."""
    install_torch(session)
    install(session, "-e", package_dir("core"), "-e", package_dir("data") + "[test]",
            "-e", package_dir("train"), "-e", package_dir("eval") + "[test]", "pytest")
    env = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "2"}
    session.run("pytest", "packages/luacoder-train/tests", "packages/luacoder-data/tests",
                "-m", "integration", "-p", "no:cacheprovider", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over every package, the examples and the noxfile."""
    install(session, "ruff")
    session.run("ruff", "check", "packages", "examples", "benchmarks", "noxfile.py", "conftest.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark and write benchmarks/RESULTS.md (pass --quick for a short run)."""
    install_torch(session)
    install(session, *[x for name in PACKAGES for x in ("-e", package_dir(name) + ("[deepspeed]" if name == "train" else ""))])
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: the quickstart pipeline end to end on a tiny offline model."""
    install_torch(session)
    install(session, *[x for name in PACKAGES for x in ("-e", package_dir(name))])
    session.run("luacoder", "run", "examples/quickstart/pipeline.yaml", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
