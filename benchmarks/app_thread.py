"""A Textual app under ``run_test`` in a thread of its own, driven from pytest-benchmark.

pytest-benchmark times plain functions; the app's pilot is a coroutine on the app's event
loop. ``AppThread.run(fn)`` runs the coroutine ``fn(pilot)`` on that loop and waits for it,
so a benchmark target can be "press a key and wait until the panel shows the result".
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from textual.app import App
from textual.pilot import Pilot

T = TypeVar("T")


class AppThread:
    def __init__(self, app: App[Any], size: tuple[int, int] = (80, 24)) -> None:
        self.app = app
        self.size = size
        self.pilot: Pilot[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="app-under-test", daemon=True)

    def __enter__(self) -> AppThread:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _main(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with self.app.run_test(size=self.size) as pilot:
                self.pilot = pilot
                self._ready.set()
                await self._stop.wait()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def run(self, fn: Callable[[Pilot[Any]], Awaitable[T]], timeout: float = 120) -> T:
        assert self.loop is not None and self.pilot is not None
        pilot = self.pilot

        async def call() -> T:
            # As the pilot's own coroutines run: with the app's context (active_app, ...).
            with self.app._context():
                return await fn(pilot)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)
