"""dev.py documents and takes the options README gives it (no install is run here)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

DEV = Path(__file__).resolve().parents[1] / "dev.py"


def load_dev():
    """dev.py as a module, without running its main()."""
    spec = importlib.util.spec_from_file_location("dev_script", DEV)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"]])
def test_help_names_the_port_and_host_options(args):
    done = subprocess.run([sys.executable, str(DEV), *args], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0
    assert "--port PORT" in done.stdout and "--host HOST" in done.stdout


def test_port_and_host_are_read_in_either_spelling():
    dev = load_dev()
    assert dev._option(["--demo", "--port", "8080"], "--port", "5000") == ("8080", ["--demo"])
    assert dev._option(["--port=8081"], "--port", "5000") == ("8081", [])
    assert dev._option(["--demo"], "--host", "127.0.0.1") == ("127.0.0.1", ["--demo"])


def test_a_port_that_is_no_number_is_refused_before_installing_anything():
    done = subprocess.run([sys.executable, str(DEV), "serve", "--port", "abc"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "--port takes a port number from 1 to 65535, not 'abc'" in done.stderr
