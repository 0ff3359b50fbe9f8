"""What every use case gets: the shop's settings, the store, the channel and the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from unyo.adapters.db.store import Store
from unyo.app.ports import OrderChannel
from unyo.clock import Clock
from unyo.flow import Config

log = logging.getLogger("unyo")

Progress = Callable[[str, int, int], None]
"""progress(task, done, total): long work reports here (the CLI draws a Rich bar)."""


def no_progress(task: str, done: int, total: int) -> None:
    return None


@dataclass
class ShopContext:
    config: Config
    store: Store
    channel: OrderChannel
    clock: Clock
    progress: Progress = field(default=no_progress)

    @property
    def shop(self) -> str:
        return self.config.shop_id
