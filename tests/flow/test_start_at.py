"""`import.start_at` and `mode`, read from the shop file: every way a date-time can be
written means its instant (JST when it names no zone); anything else is refused in
Japanese, with its line, and never with a traceback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unyo.clock import JST
from unyo.flow.config import ConfigError, parse_config, parse_start_at

ZONES = st.builds(lambda m: timezone(timedelta(minutes=m)),
                  st.integers(min_value=-12 * 60, max_value=14 * 60))
INSTANTS = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(8999, 1, 1))


def start_at_of(value: str) -> datetime | None:
    return parse_config(f"import:\n  start_at: {value}\n").import_.start_at


@given(INSTANTS, ZONES, st.sampled_from(["T", " "]), st.booleans())
def test_an_aware_date_time_is_its_instant_quoted_or_not(naive: datetime, zone: timezone,
                                                         sep: str, quoted: bool):
    at = naive.replace(microsecond=0, tzinfo=zone)
    text = at.isoformat(sep)
    got = start_at_of(f'"{text}"' if quoted else text)
    assert got == at and got.utcoffset() is not None


@given(INSTANTS, st.sampled_from(["T", " "]), st.booleans(), st.booleans())
def test_a_date_time_without_a_zone_is_jst(naive: datetime, sep: str, quoted: bool,
                                           seconds: bool):
    naive = naive.replace(microsecond=0, second=naive.second if seconds else 0)
    text = naive.isoformat(sep, "seconds" if seconds else "minutes")
    got = start_at_of(f'"{text}"' if quoted else text)
    assert got == naive.replace(tzinfo=JST)


@given(INSTANTS)
def test_a_date_is_its_midnight_in_jst(naive: datetime):
    assert start_at_of(naive.date().isoformat()) == datetime(
        naive.year, naive.month, naive.day, tzinfo=JST)


@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=False),
                 st.booleans()))
def test_anything_else_is_refused_in_japanese_never_with_a_traceback(value: object):
    try:
        got = parse_start_at(value)
    except ValueError as e:
        assert "日時" in str(e) and "例:" in str(e)
        return
    assert isinstance(value, str) and got is not None and got.tzinfo is not None


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "2026-12-10 25:00",
                                  "yesterday", "12/10", "1999-12-31 23:59", "[2026-12-10]",
                                  "{a: 1}", "2026-12-10T09:00:00+25:00"])
def test_a_bad_value_is_reported_with_file_and_line(text: str):
    with pytest.raises(ConfigError) as e:
        parse_config(f"shop:\n  id: x\nimport:\n  start_at: {text}\n", "unyo.yaml")
    assert len(e.value.problems) == 1
    assert e.value.problems[0].startswith("unyo.yaml:4:"), e.value.problems


@given(st.text(max_size=20))
def test_mode_is_live_or_shadow_and_nothing_else(value: str):
    try:
        cfg = parse_config(f"mode: {value!r}\n".replace("'", '"') if value else "mode:\n")
    except ConfigError as e:
        assert "live（本番）か shadow" in str(e) or "YAML error" in str(e)
        return
    assert cfg.mode in ("live", "shadow") and value in ("live", "shadow")
