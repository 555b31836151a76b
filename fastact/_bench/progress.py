"""A progress bar on the console while ``fastact bench`` or ``fastact accuracy`` runs (rich, or plain text)."""
from __future__ import annotations

import sys
import time


class PlainProgress:
    """``[ 12/324] sigmoid float32 1e5`` on stderr: redrawn in place on a terminal, else every 10%."""

    def __init__(self, stream=None, enabled=True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.total = self.done = 0
        self.started = time.perf_counter()

    def note(self, message):
        if self.enabled:
            print(message, file=self.stream, flush=True)

    def start(self, total, title="benchmarking"):
        self.total, self.done, self.started = total, 0, time.perf_counter()

    def advance(self, description):
        self.done += 1
        if not self.enabled:
            return
        text = f"[{self.done:>{len(str(self.total))}}/{self.total}] {description} {self.timing()}"
        if self.tty:
            self.stream.write(f"\r{text}".ljust(79)[:79])
            self.stream.flush()
        elif self.total and (self.done * 10 // self.total) != ((self.done - 1) * 10 // self.total):
            print(text, file=self.stream, flush=True)

    def timing(self) -> str:
        """'(12 s, ETA 1:05)': time spent, and the rest estimated from the mean so far
        (the points already done over the ones starting now)."""
        elapsed = time.perf_counter() - self.started
        if self.done <= 1 or not self.total:
            return f"({elapsed:.0f} s)"
        left = elapsed / (self.done - 1) * (self.total - self.done + 1)
        return f"({elapsed:.0f} s, ETA {int(left) // 60}:{int(left) % 60:02d})"

    def finish(self):
        if self.enabled and self.tty:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()


class RichProgress:
    """A rich progress bar (transient: it disappears when the table is printed)."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn("[progress.description]{task.description:<40}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=self.console, transient=True)
        self.task = None

    def note(self, message):
        self.console.print(message)

    def start(self, total, title="benchmarking"):
        self.bar.start()
        self.task = self.bar.add_task(title, total=total)

    def advance(self, description):
        self.bar.update(self.task, advance=1, description=description)

    def finish(self):
        self.bar.stop()


def make_progress(use_rich=True, enabled=True):
    """A rich bar on an interactive terminal when rich is installed, else plain text."""
    if use_rich and enabled and sys.stderr.isatty():
        try:
            return RichProgress()
        except ImportError:
            pass
    return PlainProgress(enabled=enabled)
