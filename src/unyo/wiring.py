"""The composition root: build a shop's context from its file and the environment.

The only place that reads credentials (from the environment variables the shop
file names) and picks the concrete adapters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta

from unyo.adapters.db.store import Store
from unyo.adapters.rakuten.channel import RakutenChannel
from unyo.app.context import Progress, ShopContext, no_progress
from unyo.clock import Clock, SystemClock
from unyo.flow import Config


class SetupError(Exception):
    """Something the user must fix before unyo can run (message says what)."""


class OffsetClock:
    """Real time shifted to start at a given instant (`unyo run --now`)."""

    def __init__(self, start: datetime, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset: timedelta = start - self._base.now()
        self._tz = start.tzinfo

    def now(self) -> datetime:
        return (self._base.now() + self._offset).astimezone(self._tz)

    def sleep(self, seconds: float) -> None:
        self._base.sleep(seconds)


def credentials(config: Config, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    env = os.environ if env is None else env
    names = (config.rms.service_secret_env, config.rms.license_key_env)
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise SetupError(f"set {' and '.join(missing)} in the environment (the RMS service "
                         "secret and license key from RMS > WEB APIサービス)")
    return env[names[0]], env[names[1]]


def build_context(config: Config, *, clock: Clock | None = None, store: Store | None = None,
                  progress: Progress = no_progress,
                  env: Mapping[str, str] | None = None) -> ShopContext:
    clock = clock or SystemClock()
    secret, key = credentials(config, env)
    channel = RakutenChannel.from_settings(config.rms, service_secret=secret, license_key=key,
                                           clock=clock)
    return ShopContext(config=config, store=store or Store.open(config.database_url),
                       channel=channel, clock=clock, progress=progress)
