"""A Job: the plain, picklable description of one training run.

Workers started by any launcher rebuild everything from a Job (and the registry file it
names), so it holds only strings, numbers and dicts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from zoo import kinds
from zoo.errors import TrainingError

# --set prefixes: the singular name of every kind (zoo.kinds).
PARAM_KINDS = {kind.singular: kind.name for kind in kinds.KINDS}


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What a training Job and a sweep Cell share: the entries they build, the entries'
    parameters (``--set``) and the numbers that decide a result.

    ``entries`` holds the entry of each of ``entry_kinds()`` by plural kind name, in the
    table's order (zoo.kinds).  A kind's field reads as an attribute too (``job.model``,
    ``cell.launch``), and job.json, metrics.json and a cell's key keep those flat names."""

    entries: dict[str, str] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    epochs: int = 5
    batch_size: int = 100
    seed: int = 0
    device: str = "cpu"
    target_acc: float | None = None
    # Threads per training process: Paddle's CPU kernels give other bits with another count.
    threads: int = 1
    # Train on a deterministic subset of this many images (zoo.data.subset); None: all.
    limit_train: int | None = None

    @classmethod
    def entry_kinds(cls) -> tuple[kinds.Kind, ...]:
        """The kinds it holds an entry of: read from the table when an instance is made,
        so a kind added to zoo.kinds.KINDS before then takes part."""
        raise NotImplementedError

    def __post_init__(self) -> None:
        table = self.entry_kinds()
        unknown = sorted(set(self.entries) - {kind.name for kind in table})
        if unknown:
            raise TypeError(f"{type(self).__name__} holds no entries of kind {', '.join(unknown)} "
                            f"(only: {', '.join(kind.name for kind in table)})")
        object.__setattr__(self, "entries", {kind.name: self._entry(kind) for kind in table})

    def _entry(self, kind: kinds.Kind) -> str:
        """The entry of ``kind`` given to the constructor (a subclass may supply defaults)."""
        if kind.name not in self.entries:
            raise TypeError(f"{type(self).__name__} needs an entry of kind {kind.name}")
        return self.entries[kind.name]

    def __getattr__(self, name: str) -> str:
        """A kind's field (``job.model``, ``cell.launch``): its entry, found in the table."""
        entries = self.__dict__.get("entries")  # absent while unpickling
        kind = next((kind for kind in kinds.KINDS if kind.field == name), None)
        if entries is None or kind is None or kind.name not in entries:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return entries[kind.name]

    @property
    def names(self) -> dict[str, str]:
        """The entry of each kind it builds, by plural kind name."""
        return dict(self.entries)

    def overrides(self, kind: str) -> dict[str, Any]:
        return dict(self.params.get(kind, {}))

    def to_dict(self) -> dict[str, Any]:
        """Every field, each entry under its kind's field: the flat form job.json and
        metrics.json have always had, and what a cell's key hashes."""
        data = asdict(self)
        entries = data.pop("entries")
        return {**{kinds.get(kind).field: name for kind, name in entries.items()}, **data}

    def settings(self) -> dict[str, Any]:
        """What decides the results; two runs with equal settings must agree bit for bit."""
        shared = {f.name for f in fields(RunSettings)} | {kind.field for kind in self.entry_kinds()}
        return without_old_defaults({k: v for k, v in self.to_dict().items() if k in shared})

    @classmethod
    def _arguments(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Flat fields (``model``...) or ``entries`` as keyword arguments of the class."""
        args = dict(data)
        entries = dict(args.pop("entries", None) or {})
        for kind in cls.entry_kinds():
            if kind.field in args:
                entries[kind.name] = args.pop(kind.field)
        return {"entries": entries, **args}


def without_old_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a flat Job or Cell) as it enters an identity or a key.

    One thread per process is Paddle's default, which every run before zoo recorded
    threads was computed with, and no training limit is what every run before
    ``--limit-train`` had: left out, their checkpoints' identities and their cells' keys
    stay what they were, so they still resume and their stored results still count."""
    return {k: v for k, v in data.items()
            if not (k == "threads" and v == 1) and not (k == "limit_train" and v is None)}


@dataclass(frozen=True, kw_only=True)
class Job(RunSettings):
    """A Job: the plain, picklable description of one training run.  Its entries are one
    per trained kind (zoo.kinds); a kind left out takes ``zoo train``'s default."""

    out: str
    data_dir: str | None = None
    registry_file: str | None = None
    checkpoint_every: int = 0
    keep: int = 3
    # Epochs after which the run checkpoints and ends "paused" so a sweep's pruner can
    # decide (zoo.bench.pruning); no part of the settings: a paused run resumes bit for bit.
    pause_epochs: tuple[int, ...] = ()

    @classmethod
    def entry_kinds(cls) -> tuple[kinds.Kind, ...]:
        return kinds.trained()

    def _entry(self, kind: kinds.Kind) -> str:
        if kind.name not in self.entries and kind.default is not None:
            return kind.default
        return super()._entry(kind)

    def to_json(self) -> str:
        data = self.to_dict()
        if not data["pause_epochs"]:  # only a sweep's pruner sets it: other job.json files stay as they were
            del data["pause_epochs"]
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        """A Job from job.json's flat fields (or the dataclass's own ``entries`` form)."""
        args = cls._arguments(data)
        trained = {kind.name for kind in cls.entry_kinds()}
        unknown = sorted(set(args) - {f.name for f in fields(cls)})
        unknown += [f"entries.{kind}" for kind in sorted(set(args["entries"]) - trained)]
        if unknown:
            raise TrainingError(f"job description has unknown keys: {', '.join(unknown)}")
        if "pause_epochs" in args:  # JSON has lists: the same job read back must compare equal
            args["pause_epochs"] = tuple(args["pause_epochs"] or ())
        return cls(**args)

    @classmethod
    def load(cls, path: Path) -> Job:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise TrainingError(f"{path}: cannot read job description: {exc}") from None


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
