"""The `alerts:` section (money watch): defaults, values, and mistakes at their line."""

from __future__ import annotations

from datetime import time

import pytest

from unyo.flow.config import INIT_TEMPLATE, ConfigError, parse_config

SHOP = "shop:\n  id: s\n  name: S\n"


def test_the_defaults_and_set_values():
    default = parse_config(SHOP, env={}).alerts
    assert (default.mail_to, default.webhook_url_env, default.payout_by) == (
        (), "UNYO_ALERTS_WEBHOOK_URL", "09:00")
    cfg = parse_config(SHOP + "alerts:\n  mail_to: tenchou@example.jp\n  payout_by: '8:30'\n"
                       "  license_expires: 2027-03-01\n  payout_lookback: 3d\n"
                       "  license_days: 20\n", env={}).alerts
    assert cfg.mail_to == ("tenchou@example.jp",) and cfg.license_expires == "2027-03-01"
    assert cfg.watch.payout_by == time(8, 30) and cfg.watch.license_days == 20
    assert cfg.payout_lookback == 3 * 86400


@pytest.mark.parametrize(("line", "why"), [
    ("  mail_to: [not-an-address]", "is not a mail address"),
    ("  mail_to: ['a@b.jp\\nBcc: x@y.jp']", "is not a mail address"),
    ("  payout_by: '25:00'", "expected a time of day"),
    ("  license_expires: soon", "expected a date"),
    ("  webhook_url_env: https://hooks.slack.com/services/T0/B0/secret",
     "expected the name of an environment variable"),
    ("  colour: red", "unknown key"),
])
def test_a_mistake_is_refused_at_its_line(line: str, why: str):
    with pytest.raises(ConfigError) as e:
        parse_config(SHOP + "alerts:\n" + line + "\n", "shop.yaml", env={})
    (problem,) = e.value.problems
    assert problem.startswith("shop.yaml:5: alerts.") and why in problem
    assert "secret" not in problem  # a URL in the wrong place is not echoed


def test_the_init_file_names_them():
    assert "alerts:" in INIT_TEMPLATE
    assert "webhook_url_env: UNYO_ALERTS_WEBHOOK_URL" in INIT_TEMPLATE
