"""Progress of a copy on stderr: a bar per table on a terminal (rich), otherwise plain lines
every few seconds and when a table is done, which read well in a log or a CI job."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

LINE_INTERVAL_S = 2.0


class CopyProgress(Protocol):
    def start(self, table: str, total: int) -> None: ...
    def advance(self, rows: int) -> None: ...
    def done(self) -> None: ...
    def close(self) -> None: ...


class LineProgress:
    """`optiview: copy: events 200000/1000000 rows (20%)` at most every `interval` seconds."""

    def __init__(
        self,
        write: Callable[[str], None],
        interval: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write, self.interval, self.clock = write, interval, clock
        self.table, self.total, self.rows = "", 0, 0
        self.started = self.said = 0.0

    def start(self, table: str, total: int) -> None:
        self.table, self.total, self.rows = table, total, 0
        self.started = self.said = self.clock()

    def advance(self, rows: int) -> None:
        self.rows += rows
        if self.clock() - self.said >= self.interval:
            self.said = self.clock()
            self.write(f"copy: {self.table} {self.rows}/{self.total} rows ({self._percent()}%)")

    def done(self) -> None:
        seconds = self.clock() - self.started
        self.write(f"copy: {self.table} {self.rows}/{self.total} rows, done in {seconds:.1f} s")

    def close(self) -> None:
        pass

    def _percent(self) -> int:
        return 100 if self.total == 0 else min(100, self.rows * 100 // self.total)


class BarProgress:
    def __init__(self, stream: TextIO) -> None:
        self.bars = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
        )
        self.task: TaskID | None = None
        self.bars.start()

    def start(self, table: str, total: int) -> None:
        self.task = self.bars.add_task(table, total=total)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.bars.advance(self.task, rows)

    def done(self) -> None:
        if self.task is not None:
            self.bars.stop_task(self.task)  # its elapsed time stops with it

    def close(self) -> None:
        self.bars.stop()


def for_stderr(stream: TextIO | None = None) -> CopyProgress:
    out = sys.stderr if stream is None else stream
    if out.isatty():
        return BarProgress(out)
    return LineProgress(lambda line: print(f"optiview: {line}", file=out, flush=True))
