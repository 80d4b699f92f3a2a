"""Helpers of the deployment tests: small real runs, test-only models, and Python
environments that lack a package (zoo itself, or the onnx extra)."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

from tests.conftest import BUILTINS, ROOT, registry_text, run_zoo

SEED_SMALL = ROOT / "tests" / "data" / "seed-small"  # 200 train / 50 val / 50 test images

# Test-only models: one with batch norm, one whose traced program must differ from the
# Layer (a Python counter read in forward() is frozen into a constant when it is traced),
# and one that fails as soon as it trains.
MODELS_PLUGIN = '''
import zoo


def build_bn_cnn(input_shape, num_classes, *, channels: int = 8):
    from paddle import nn

    c, h, w = input_shape
    return nn.Sequential(nn.Conv2D(c, channels, 3, padding=1), nn.BatchNorm2D(channels), nn.ReLU(),
                         nn.MaxPool2D(2), nn.Flatten(),
                         nn.Linear(channels * (h // 2) * (w // 2), num_classes))


def build_drifting(input_shape, num_classes):
    import math

    import paddle
    from paddle import nn

    class Drifting(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(math.prod(input_shape), num_classes)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return self.fc(paddle.flatten(x, 1)) + float(self.calls)

    return Drifting()


def build_broken(input_shape, num_classes):
    from paddle import nn

    class Broken(nn.Linear):
        def forward(self, x):
            raise RuntimeError("broken on purpose")

    return Broken(1, num_classes)


@zoo.hookimpl
def zoo_register_models(register):
    register("bn-cnn", build_bn_cnn, description="a CNN with batch norm (test only)")
    register("drifting", build_drifting, description="differs from its own trace (test only)")
    register("broken", build_broken, description="fails when it trains (test only)")
'''


def models_env(folder: Path) -> dict[str, str]:
    """Environment for zoo commands that also see the test-only models."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zoo_deploy_models.py").write_text(textwrap.dedent(MODELS_PLUGIN))
    (folder / "registry.toml").write_text(registry_text(BUILTINS + ["zoo_deploy_models"]))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
    env["ZOO_REGISTRY"] = str(folder / "registry.toml")
    return env


def train(out: Path, model: str, env: dict | None = None, epochs: int = 5) -> Path:
    proc = run_zoo("train", "--model", model, "--optimizer", "adam", "--epochs", str(epochs),
                   "--batch-size", "20", "--data-dir", str(SEED_SMALL), "--out", str(out),
                   "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def export(run: Path, fmt: str, env: dict | None = None, *extra: str) -> Path:
    out = run / f"export-{fmt}"
    proc = run_zoo("export", str(run), "--format", fmt, "--out", str(out), "--force", *extra, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def site_without(dest: Path, *patterns: str) -> Path:
    """A site-packages folder with every entry of this venv's, as symlinks, except those
    matching ``patterns`` (globs on lower-case names).

    Added with ``site.addsitedir`` to a ``python -I -S`` process (no site-packages, no
    .pth processing, no PYTHONPATH), it is a real environment without those packages:
    their files are simply not there, and the .pth files that remain still run."""
    dest.mkdir(parents=True)
    purelib = Path(sysconfig.get_paths()["purelib"])
    for entry in purelib.iterdir():
        if not any(fnmatch.fnmatch(entry.name.lower(), p) for p in patterns):
            (dest / entry.name).symlink_to(entry)
    return dest


def isolated(site: Path, code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in ``python -I -S`` with only ``site`` added, from ``cwd``."""
    boot = f"import site; site.addsitedir({str(site)!r})\n" + code
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ZOO_"))}
    return subprocess.run([sys.executable, "-I", "-S", "-c", boot, *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


ZOO_MAIN = "import sys\nfrom zoo.cli import main\nsys.exit(main(sys.argv[1:]))\n"
