"""Runs the browser tests' Python snippets (seeding, syncing, expiry runs) in one long-lived
interpreter with Django set up, instead of a fresh ``python -c`` each: starting one and
setting Django up costs a second of CPU, and many seconds on a busy machine.

Each snippet still gets what a fresh interpreter gave it: its own globals, ``sys.argv``
of its own, its printed output, and afterwards no database connection left open and
no local-memory cache entry left behind (shared caches such as Redis are left alone:
the server and worker use them too). A snippet that raises, or exits non-zero, fails
with its traceback; one that hangs past its timeout has the interpreter killed, and
the next snippet starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

# The interpreter's loop: a request per line on stdin, a reply per line on the file
# descriptor in argv (stdout and stderr belong to the snippets and go to the log).
_LOOP = """
import contextlib, io, json, os, sys, traceback
import django
django.setup()
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections
replies = os.fdopen(int(sys.argv[1]), "w", buffering=1)
while line := sys.stdin.readline():
    job = json.loads(line)
    sys.argv = ["-c", *job["args"]]
    printed, ok, error = io.StringIO(), True, ""
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(job["code"], "<snippet>", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        ok = exc.code in (None, 0)
        error = "" if ok else f"exited with {exc.code!r}"
    except BaseException:
        ok, error = False, traceback.format_exc()
    finally:
        connections.close_all()
        for cache in caches.all(initialized_only=True):
            if isinstance(cache, LocMemCache):
                cache.clear()
    sys.stdout.flush()
    sys.stderr.flush()
    replies.write(json.dumps({"ok": ok, "stdout": printed.getvalue(), "error": error}) + "\\n")
"""


class SnippetError(Exception):
    """A snippet failed; the message carries its traceback or what went wrong."""


class SnippetRunner:
    """One interpreter in ``env`` (started on first use) running snippets one at a time."""

    def __init__(self, *, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self._process: subprocess.Popen | None = None
        self._replies = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        read_end, write_end = os.pipe()
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _LOOP, str(write_end)],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                text=True,
            )
        os.close(write_end)
        self._replies = os.fdopen(read_end, "r")

    def run(self, code: str, *args: str, timeout: float) -> str:
        """What ``code`` printed; raises SnippetError if it failed or timed out."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self.close()
                self._start()
            assert self._process is not None
            requests = self._process.stdin
            assert requests is not None
            requests.write(json.dumps({"code": code, "args": list(args)}) + "\n")
            requests.flush()
            ready, _, _ = select.select([self._replies], [], [], timeout)
            line = self._replies.readline() if ready else ""
            if not line:
                self.close()
                raise SnippetError(f"no answer within {timeout:.0f}s (see the snippets log)")
        reply = json.loads(line)
        if not reply["ok"]:
            raise SnippetError(reply["error"][-3000:])
        return reply["stdout"]

    def close(self) -> None:
        """End the interpreter: politely (end of input), killed if it does not go."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None and not process.stdin.closed:
                with contextlib.suppress(OSError):  # already gone
                    process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._replies is not None:
            self._replies.close()
            self._replies = None
