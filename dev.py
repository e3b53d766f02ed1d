#!/usr/bin/env python3
"""Set up and run the console, or its tests, with nothing but Python 3.11+.

python3 dev.py serve [--demo] [--port PORT] [--host HOST]
                                install into .venv, migrate, ensure an admin, serve on
                                127.0.0.1:5000 (or PORT, HOST); --demo adds demo data
python3 dev.py test [ARGS]      install into .venv (with test tools), lint, type-check,
                                run pytest ARGS
python3 dev.py COMMAND --help   this text
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _install(extras: str) -> None:
    """Create .venv and install the project, again only when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under any python3
        sys.exit("Console needs Python 3.11 or newer.")
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    target = f".[{extras}]" if extras else "."
    print(f"Installing {target} into .venv ...", flush=True)
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            target,
        ],
        cwd=ROOT,
        check=True,
    )
    stamp.write_text(digest)


def _option(args: list[str], name: str, default: str) -> tuple[str, list[str]]:
    """The value of ``--name VALUE`` (or ``--name=VALUE``) in ``args``, and the rest."""
    rest: list[str] = []
    value = default
    items = iter(args)
    for arg in items:
        if arg == name:
            value = next(items, "")
        elif arg.startswith(name + "="):
            value = arg.partition("=")[2]
        else:
            rest.append(arg)
    if not value:
        sys.exit(f"{name} needs a value, e.g. {name} {default}")
    return value, rest


def serve(args: list[str]) -> int:
    """Migrate, make sure an admin exists, then run the development server."""
    if "--help" in args or "-h" in args:
        print(__doc__)
        return 0
    port, args = _option(args, "--port", "5000")
    host, args = _option(args, "--host", "127.0.0.1")
    if not port.isdigit() or not 0 < int(port) < 65536:
        sys.exit(f"--port takes a port number from 1 to 65535, not {port!r}")
    _install("")
    demo = ["--demo"] if "--demo" in args else []
    rest = [a for a in args if a != "--demo"]
    subprocess.run([str(BIN / "console"), "init", *demo], cwd=ROOT, check=True)
    return subprocess.call(
        [str(BIN / "console"), "run", "--host", host, "--port", port, *rest], cwd=ROOT
    )


def test(args: list[str]) -> int:
    """Lint, then run the suite (PostgreSQL and browser tests skip, with reasons, if absent)."""
    _install("test")
    lint = subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT)
    if lint:
        return lint
    types = subprocess.call([str(BIN / "mypy")], cwd=ROOT)  # files and rules: pyproject.toml
    if types:
        return types
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *args], cwd=ROOT)


def main() -> int:
    commands = {"serve": serve, "test": test}
    if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
