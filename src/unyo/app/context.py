"""What every use case gets: the shop's settings, the store, the channel and the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from unyo.adapters.db.store import Cutover, Store
from unyo.app.ports import MailSender, OrderChannel, StaffWebhook
from unyo.clock import Clock
from unyo.flow import Config

if TYPE_CHECKING:
    from unyo.app.warehouse import Warehouse

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
    mail: MailSender | None = None  # buyer mail; None until the shop turns mail on
    warehouse: Warehouse | None = None  # the WMS exchange; None until the shop turns it on
    webhook: StaffWebhook | None = None  # the staff's alert webhook (alerts.webhook_url_env)

    def __post_init__(self) -> None:
        # The outbox boundary learns the shop's mode here, before any step runs: in
        # shadow mode no effect leaves, whatever its kind (Store.due_effects).
        self.store.set_cutover(self.shop, Cutover(self.config.shadow,
                                                  self.config.import_.start_at))

    @property
    def shadow(self) -> bool:
        """Shadow mode: import and run the rules, act nowhere (no outside effect)."""
        return self.config.shadow

    @property
    def shop(self) -> str:
        return self.config.shop_id
