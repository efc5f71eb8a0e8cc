"""Real venvs for the platform tests: create, pip install (timed, own cache), freeze, run kernels.

Every install gets a fresh pip cache, so each platform's time and download size
are those of a fresh machine; the download size adds up pip's own "Downloading NAME
(SIZE)" lines (PIP_VERBOSE=1 undoes a -q, e.g. the Makefile's). Results go to build/platforms/<platform>.json; tests/platforms/
test_tested_with.py turns them into the README's "tested with" table.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "build" / "platforms"
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
STACK = ("tensorflow", "keras", "numpy")


def interpreter(version):
    """The path of a Python `version` ("3.13" from pyenv, or an absolute path), or None."""
    if os.path.isabs(version):
        return version if os.access(version, os.X_OK) else None
    found = sorted((PYENV_ROOT / "versions").glob(f"{version}.*/bin/python{version}"))
    return str(found[-1]) if found else shutil.which(f"python{version}")


def du(path):
    """Bytes under `path` (files only, as `du -sb` counts them)."""
    return sum(
        p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink()
    )


def mb(nbytes):
    return round(nbytes / 2**20)


UNITS = {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}  # pip's format_size is decimal


def downloaded(pip_output):
    """Bytes pip reported downloading in `pip_output`."""
    sizes = re.findall(
        r"^\s*Downloading \S+ \(([\d.]+) (bytes|kB|MB|GB)\)", pip_output, re.MULTILINE
    )
    return int(sum(float(n) * UNITS[unit] for n, unit in sizes))


def clean_env():
    """os.environ without venv variables and without this machine's pip config files.

    The config may add local wheel folders (find-links, file:// indexes): with them off,
    every package comes from PyPI, as on Colab or a fresh machine, and is counted.
    """
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


class Venv:
    """A fresh venv made by `python`, with its own pip cache under `root`."""

    def __init__(self, python, root):
        self.root = Path(root)
        self.path = self.root / "venv"
        self.cache = self.root / "pip-cache"
        self.python = self.path / "bin" / "python"
        self.seconds = 0.0
        self.downloaded = 0
        subprocess.run([python, "-m", "venv", str(self.path)], check=True, timeout=300)

    def env(self, **extra):
        env = clean_env()
        env.update(
            PIP_CACHE_DIR=str(self.cache), TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow"
        )
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env['PATH']}"
        env.update(extra)
        return env

    def run(self, *args, timeout=900, check=True, cwd=None, **env):
        """Runs `args` with the venv's bin first on PATH; returns the CompletedProcess."""
        done = subprocess.run(
            [str(a) for a in args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or self.root,
        )
        if check:
            assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def pip(self, *args, timeout=900):
        """`python -m pip ARGS`, timed into `self.seconds`, its downloads into `self.downloaded`."""
        start = time.perf_counter()
        done = self.run(
            self.python, "-m", "pip", *args, "--disable-pip-version-check", timeout=timeout
        )
        self.seconds += time.perf_counter() - start
        self.downloaded += downloaded(done.stdout)
        return done

    def freeze(self):
        """`{canonical name: version}` of what is installed, from `pip list --format json`."""
        out = self.run(self.python, "-m", "pip", "list", "--format", "json").stdout
        return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}

    def python_version(self):
        return self.run(
            self.python, "-c", "import platform; print(platform.python_version())"
        ).stdout.strip()

    def kernelspec(self, jupyter_dir):
        """Writes a kernelspec `venv` running this venv's ipykernel; returns its name."""
        spec = Path(jupyter_dir) / "kernels" / "venv"
        spec.mkdir(parents=True, exist_ok=True)
        argv = [str(self.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": "venv", "language": "python"})
        )
        return "venv"


def copy_of_repo(dest):
    """The working tree's files (tracked and new, not ignored) copied to `dest`, no .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


def build_wheel(out):
    """The project's wheel, built by pip from a copy of this checkout; returns its path."""
    source = copy_of_repo(Path(out) / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = Path(out).glob("course_lib-*.whl")
    return wheel


def execute(nb, venv, workdir, monkeypatch, *, timeout=900, allow_errors=False):
    """Runs `nb` (an nbformat notebook) in a kernel of `venv`, in quick mode; returns seconds."""
    from nbclient import NotebookClient

    jupyter = Path(workdir) / "jupyter"
    name = venv.kernelspec(jupyter)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    for key, value in venv.env(COURSE_QUICK="1").items():
        monkeypatch.setenv(key, value)
    client = NotebookClient(
        nb,
        kernel_name=name,
        timeout=timeout,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def errors(nb):
    return [
        (i, o.ename, o.evalue)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]


def setup_cell_only(path):
    """The notebook at `path` cut down to its first (setup) code cell."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [next(c for c in nb.cells if c.cell_type == "code")]
    return nb


def record(platform, **fields):
    """Writes build/platforms/<platform>.json (merged with what is there)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{platform}.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(fields, platform=platform)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return data
