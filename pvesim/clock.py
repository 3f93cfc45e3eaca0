"""Simulated time: one clock per process, an offset plus a speed factor over real time.

Everything time-dependent (tasks, tickets, expiry, uptimes, stats) reads ``Clock.now()``, so
the control API can jump or accelerate time without any handler sleeping.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Monotonic simulated epoch seconds: ``base + (real_elapsed * speed)``.

    Invariant: ``now()`` never goes backwards, whatever ``advance``/``set_speed`` do.
    """

    def __init__(self, *, start: float | None = None, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._base = time.time() if start is None else start
        self._real = time.monotonic()
        self._speed = speed

    def now(self) -> float:
        with self._lock:
            return self._base + (time.monotonic() - self._real) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    def _rebase(self) -> None:
        real = time.monotonic()
        self._base += (real - self._real) * self._speed
        self._real = real

    def advance(self, seconds: float) -> float:
        """Jump forward; negative jumps are refused to keep time monotonic."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        with self._lock:
            self._rebase()
            self._base += seconds
            return self._base

    def set_speed(self, factor: float) -> None:
        """Run simulated time ``factor`` times faster than real time (0 freezes it)."""
        if factor < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            self._rebase()
            self._speed = factor

    def to_json(self) -> dict[str, float]:
        return {"now": self.now(), "speed": self._speed}

    @classmethod
    def from_json(cls, data: dict[str, float]) -> Clock:
        return cls(start=float(data["now"]), speed=float(data.get("speed", 1.0)))
