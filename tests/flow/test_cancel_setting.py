"""rms.cancel_inventory_restore: RMS inventoryRestoreType for a cancel in unyo (0–2)."""

from __future__ import annotations

import pytest

from unyo.flow.config import INIT_TEMPLATE, ConfigError, parse_config

SHOP = "shop:\n  id: s\n  name: S\n"


def test_the_default_and_a_set_value():
    assert parse_config(SHOP + "", env={}).rms.cancel_inventory_restore == 1
    assert parse_config(SHOP + "rms:\n  cancel_inventory_restore: 0\n",
                        env={}).rms.cancel_inventory_restore == 0


def test_a_value_rakuten_does_not_know_is_refused_at_its_line():
    with pytest.raises(ConfigError) as e:
        parse_config(SHOP + "rms:\n  cancel_inventory_restore: 3\n", "shop.yaml", env={})
    assert any("shop.yaml:5" in p and "cancel_inventory_restore" in p
               for p in e.value.problems)


def test_the_init_file_names_it():
    assert "cancel_inventory_restore: 1" in INIT_TEMPLATE
