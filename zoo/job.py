"""A Job: the plain, picklable description of one training run.

Workers started by any launcher rebuild everything from a Job (and the registry file it
names), so it holds only strings, numbers and dicts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, field, fields, make_dataclass
from pathlib import Path
from typing import Any, Optional

from zoo import kinds
from zoo.errors import TrainingError

# --set prefixes: the singular name of every kind (zoo.kinds).
PARAM_KINDS = {kind.singular: kind.name for kind in kinds.KINDS}


class _JobMethods:
    out: str
    params: dict[str, dict[str, Any]]

    def overrides(self, kind: str) -> dict[str, Any]:
        return dict(self.params.get(kind, {}))

    @property
    def names(self) -> dict[str, str]:
        """The entry of each trained kind, by plural kind name."""
        return {kind.name: getattr(self, kind.field) for kind in kinds.trained()}

    def settings(self) -> dict[str, Any]:
        """What decides the results; two runs with equal settings must agree bit for bit."""
        data = asdict(self)
        for key in ("out", "registry_file", "data_dir", "keep", "checkpoint_every"):
            data.pop(key)
        if data["threads"] == 1:
            # Paddle's default, which every run before zoo recorded threads computed with:
            # leaving it out keeps their checkpoints' identities, so they still resume.
            data.pop("threads")
        if data["limit_train"] is None:  # likewise: runs from before limits keep theirs
            data.pop("limit_train")
        return data

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainingError(f"job description has unknown keys: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> "Job":
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise TrainingError(f"{path}: cannot read job description: {exc}") from None


# A Job: the plain, picklable description of one training run.  Its fields are the out
# folder, one field per trained kind (zoo.kinds; `zoo train`'s defaults), then the rest.
Job = make_dataclass("Job", [
    ("out", str),
    *[(kind.field, str, field(default=kind.default)) for kind in kinds.trained()],
    ("params", dict, field(default_factory=dict)),
    ("data_dir", Optional[str], None),
    ("epochs", int, 5),
    ("batch_size", int, 100),
    ("seed", int, 0),
    ("device", str, "cpu"),
    ("registry_file", Optional[str], None),
    ("checkpoint_every", int, 0),
    ("keep", int, 3),
    ("target_acc", Optional[float], None),
    # Threads per training process: Paddle's CPU kernels give other bits with another count.
    ("threads", int, 1),
    # Train on a deterministic subset of this many images (zoo.data.subset); None: all.
    ("limit_train", Optional[int], None),
], bases=(_JobMethods,), frozen=True)
Job.__module__ = __name__  # pickles and reprs as zoo.job.Job


def parse_sets(items: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``--set optimizer.learning_rate=0.001`` → {"optimizers": {"learning_rate": 0.001}}.

    Values are read as JSON when they parse (numbers, booleans, lists), else as strings.
    """
    params: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        prefix, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise TrainingError(f"--set {item!r}: expected KIND.PARAM=VALUE, e.g. optimizer.learning_rate=0.001")
        if prefix not in PARAM_KINDS:
            raise TrainingError(f"--set {item!r}: unknown kind '{prefix}' "
                                f"(one of: {', '.join(PARAM_KINDS)})")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        params.setdefault(PARAM_KINDS[prefix], {})[name] = value
    return params
