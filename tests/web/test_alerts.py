"""The runner records RMS refusing the credentials where the dashboard sees it."""

from __future__ import annotations

from tests.factories import T0
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.db.accounts import Accounts
from unyo.app.context import ShopContext
from unyo.app.dashboard import RMS_AUTH_ALERT
from unyo.app.ports import ChannelAuthError
from unyo.app.runner import Runner
from unyo.clock import SimClock
from unyo.flow import Config


class RefusingChannel(FakeChannel):
    refuse = True

    def search(self, start, end):  # type: ignore[no-untyped-def]
        if self.refuse:
            raise ChannelAuthError("RMS rejected the license key (ES04-01)")
        return super().search(start, end)


def test_rms_auth_failure_is_kept_until_rms_answers_again(store: Store):
    channel = RefusingChannel()
    runner = Runner.for_shop(ShopContext(Config(shop_id="s"), store, channel, SimClock(T0)))
    accounts = Accounts(store.engine)
    runner.run_once()
    assert "ES04-01" in (accounts.setting("s", RMS_AUTH_ALERT) or "")
    channel.refuse = False
    runner.run_once()
    assert accounts.setting("s", RMS_AUTH_ALERT) is None
