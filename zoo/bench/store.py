"""The results store: one SQLite row per cell and seed, written in transactions.

SQLite survives a killed process without losing committed rows, and ``zoo results``
can read it while a sweep is still running.  Every SQLite failure (a corrupt file, a
lock held too long, a full disk) is a one-line StoreError; the result it was about is
never lost, because each cell keeps its own metrics and checkpoints in its folder.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from zoo import kinds
from zoo.bench.grid import Cell
from zoo.errors import ZooError, one_line
from zoo.layout import CELLS, RESULTS_DB, SweepDir

# One column per swept kind (zoo.kinds), then what every cell of a sweep shares, and the seed.
AXIS_COLUMNS = [kind.field for kind in kinds.swept()] + ["nprocs", "device", "epochs",
                                                         "batch_size", "seed", "threads",
                                                         "limit_train"]
RESULT_COLUMNS = ["status", "reason", "epochs_done", "train_loss", "train_acc", "val_loss",
                  "val_acc", "test_loss", "test_acc", "wall_time", "train_time", "startup_time",
                  "images_per_s", "time_to_target", "num_classes", "paddle_version", "host",
                  "zoo_version", "git_rev", "started_at", "ended_at", "cell_dir",
                  # where it ran: the executor, its slot or node, and whether other cells
                  # could run on that machine meanwhile (its times are then not comparable)
                  "executor", "node", "shared",
                  # the highest validation accuracy of any epoch, and the model's size
                  "best_val_acc", "num_params",
                  # the training process's peak resident memory (MiB, zoo.train.memory)
                  "peak_rss_mb"]
TEXT_COLUMNS = {"status", "reason", "paddle_version", "host", "zoo_version", "git_rev",
                "started_at", "ended_at", "cell_dir", "epochs_done", "executor", "node"}
INTEGER_COLUMNS = {"nprocs", "epochs", "batch_size", "seed", "num_classes", "threads", "shared",
                   "num_params", "limit_train"}
# Seconds a write waits for another connection's lock before it is an error.
TIMEOUT_ENV = "ZOO_STORE_TIMEOUT"


def _type(column: str) -> str:
    return "INTEGER" if column in INTEGER_COLUMNS else "TEXT" if column in TEXT_COLUMNS else "REAL"


# Columns added after the first release are added to older stores when they are opened.
COLUMNS = {"cell": "TEXT NOT NULL", "slug": "TEXT NOT NULL",
           **{c: _type(c) for c in AXIS_COLUMNS}, "params": "TEXT NOT NULL",
           "target_acc": "REAL", "identity": "TEXT",
           # where the target came from (zoo bench --target-from), with every row
           "target_from": "TEXT", **{c: _type(c) for c in RESULT_COLUMNS}}
SCHEMA = (f"CREATE TABLE IF NOT EXISTS results ("
          f"{', '.join(f'{name} {kind}' for name, kind in COLUMNS.items())}, "
          f"PRIMARY KEY (cell, seed));"
          "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")


class StoreError(ZooError):
    """The results database cannot be opened, read or written."""


def _timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "30")
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise StoreError(f"${TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None


class Store:
    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        # A reader of a WAL database makes -wal and -shm files it cannot remove itself;
        # when none were there, close() has them removed (_tidy_reader_files).
        self._tidy = readonly and not any(Path(f"{path}{end}").exists() for end in ("-wal", "-shm"))
        self.db = self._guard("open", lambda: self._connect(readonly))

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            db = _open_readonly(self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=_timeout(), isolation_level=None)
        db.row_factory = sqlite3.Row
        if not readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(results)")}
            for name, kind in COLUMNS.items():
                if name not in have:
                    db.execute(f"ALTER TABLE results ADD COLUMN {name} {kind.replace(' NOT NULL', '')}")
        db.execute("SELECT count(*) FROM results").fetchone()  # a foreign file fails here
        return db

    def _guard(self, action: str, work):
        try:
            return work()
        except sqlite3.Error as exc:
            problem = one_line(exc)
            if "locked" in problem or "busy" in problem:
                problem += " (another process holds the database; wait for it, or raise " \
                           f"${TIMEOUT_ENV})"
            raise StoreError(f"{self.path}: cannot {action} the results database: {problem}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot {action} the results database: "
                             f"{exc.strerror or one_line(exc)}") from None

    def close(self) -> None:
        self.db.close()
        if self._tidy:
            _tidy_reader_files(self.path)

    def rows(self) -> list[dict[str, Any]]:
        return self._guard("read", lambda: [dict(row) for row in
                                            self.db.execute("SELECT * FROM results ORDER BY rowid")])

    def row(self, cell: Cell) -> dict[str, Any] | None:
        found = self._guard("read", lambda: self.db.execute(
            "SELECT * FROM results WHERE cell = ? AND seed = ?", (cell.key, cell.seed)).fetchone())
        return dict(found) if found else None

    def record(self, cell: Cell, **values: Any) -> None:
        """Insert or update the cell's row in one transaction."""
        unknown = set(values) - set(RESULT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}")
        axes = {c: getattr(cell, c) for c in AXIS_COLUMNS}
        data = {"cell": cell.key, "slug": cell.slug, **axes,
                "params": json.dumps(cell.params, sort_keys=True), "target_acc": cell.target_acc,
                "target_from": cell.identity.get("target_from"),
                "identity": json.dumps(cell.identity, sort_keys=True), **values}
        columns = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        updates = ", ".join(f"{c} = excluded.{c}" for c in values) or "slug = excluded.slug"

        def write():
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.execute(f"INSERT INTO results ({columns}) VALUES ({marks}) "
                                f"ON CONFLICT (cell, seed) DO UPDATE SET {updates}", list(data.values()))
        self._guard("write", write)

    def delete(self, cells: Iterable[Cell]) -> None:
        keys = [(c.key, c.seed) for c in cells]

        def work():
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("DELETE FROM results WHERE cell = ? AND seed = ?", keys)
        self._guard("write", work)

    def grid_rows(self) -> tuple[list[dict[str, Any]], int]:
        """The rows of the sweep last run here (all rows if none recorded its grid), and how
        many stored rows are left out because they belong to another grid or identity.

        `zoo results`, `zoo report` and the sweep itself show exactly these rows."""
        rows = self.rows()
        grid = self.get_meta("grid")
        if grid is None:
            return rows, 0
        keys = {(cell, seed) for cell, seed in grid}
        kept = [r for r in rows if (r["cell"], r["seed"]) in keys]
        return kept, len(rows) - len(kept)

    def get_meta(self, key: str) -> Any:
        found = self._guard("read", lambda: self.db.execute(
            "SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return json.loads(found[0]) if found else None

    def set_meta(self, key: str, value: Any) -> None:
        def work():
            with self.db:
                self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                                "DO UPDATE SET value = excluded.value", (key, json.dumps(value)))
        self._guard("write", work)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """Read without writing anything: not the database, not a -wal or -shm file.

    ``mode=ro`` still shares the live sweep's WAL, so a running sweep's newest rows are
    seen.  Where that cannot work (a read-only copy whose WAL index cannot be created),
    ``immutable=1`` reads the file as it stands, which is right for a copy nobody writes.
    """
    uri = f"file:{quote(str(path.resolve()))}"
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=_timeout())
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?immutable=1", uri=True)


def _tidy_reader_files(path: Path) -> None:
    """Remove the -wal and -shm files a read-only connection left beside ``path``.

    Only SQLite may remove them safely (a sweep may have opened the database meanwhile),
    and it does when the last connection closes, but only a connection that can write.
    One that reads nothing but the schema changes no data; where it cannot open, the
    files stay, as before.
    """
    try:
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=rw", uri=True, timeout=0)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            db.close()
    except (sqlite3.Error, OSError):
        pass


def cell_folder(sweep_dir: Path, row: dict[str, Any]) -> Path:
    """The folder of ``row``'s cell inside ``sweep_dir``, wherever the sweep lies now.

    A row stores the absolute folder of its cell as the sweep was when the cell ran (as
    zoo 0.2.0 did, so older stores and readers keep working).  A copied or moved sweep
    must work on its own cells: a stored path is used only where it lies inside
    ``sweep_dir/cells`` and is otherwise read as ``sweep_dir/cells/<its last part>``,
    never followed to another sweep.  A relative path is relative to ``sweep_dir``; one
    that leads out of ``sweep_dir/cells`` (``..``, a symbolic link) is a StoreError.
    """
    cells = (sweep_dir / CELLS).resolve()
    stored = Path(row.get("cell_dir") or f"{CELLS}/{row['slug']}")
    if not stored.is_absolute():
        folder = sweep_dir / stored
    elif stored.resolve().is_relative_to(cells):
        folder = stored
    else:
        folder = sweep_dir / CELLS / stored.name
    if not folder.resolve().is_relative_to(cells) or folder.resolve() == cells:
        raise StoreError(f"{sweep_dir}: the row of cell {row['slug']} names the folder {stored}, "
                         f"which is not inside {sweep_dir / CELLS}")
    return folder


def open_existing(run_dir: Path) -> Store:
    """The store of a finished or running sweep, opened read-only."""
    path = SweepDir(run_dir).results_db
    if not path.is_file():
        raise StoreError(f"{run_dir}: no {RESULTS_DB} here (not a zoo bench run directory)")
    return Store(path, readonly=True)
