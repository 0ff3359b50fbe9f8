"""The diagram model: the reference flow of DESIGN.md §2 with the shop's settings and rules."""

from __future__ import annotations

from dataclasses import replace

from unyo.diagram import Lane, NodeKind, build_diagram
from unyo.flow import Config


def steps(config: Config) -> set[int]:
    d = build_diagram(config)
    return {n.step for n in d.nodes if n.step} | {g.step for g in d.groups if g.step} | {
        e.step for e in d.edges if e.step}


def test_the_default_flow_draws_every_step_in_the_four_lanes(default_config: Config):
    d = build_diagram(default_config)
    assert steps(default_config) == set(range(1, 15))
    assert set(d.lanes) == {Lane.rms, Lane.unyo, Lane.warehouse, Lane.buyer}
    assert [n.id for n in d.rule_nodes] == ["rule_none"]  # no rules: a placeholder
    ids = {n.id for n in d.nodes} | {g.id for g in d.groups}
    assert all(e.source in ids and e.target in ids for e in d.edges)
    assert d.bottleneck is None and all(n.counts is None for n in d.nodes)
    # the defaults: 1-minute poll, the 30-minute wait, 5-minute sync on the edges
    labels = {(e.source, e.target): e.label for e in d.edges}
    assert labels[("rms_new", "import")] == "1分ごと・30分待ち"
    assert labels[("rms_auth", "processing")] == "RMS 300・5分ごと"


def test_the_ten_rules_of_unyo_init_are_nodes_in_file_order_with_their_words(
        init_config: Config):
    d = build_diagram(init_config)
    rules = d.rule_nodes
    assert [n.title for n in rules] == [r.name for r in init_config.rules]
    assert len(rules) == 10 and all(n.group == "processing" for n in rules)
    first = rules[0]
    assert first.detail.startswith(
        "備考欄（お客様の記入）あり → 確認待ち「備考欄に要望: …」")
    assert "注文種別が「予約」 → 保留「発売日待ち」 発売日の1日前まで" in rules[7].detail
    # the box holds payment, the rules, then the other checks, in that order
    box = [n.id for n in d.nodes if n.group == "processing"]
    assert box[0] == "payment" and box[-1] == "other_checks"


def test_steps_that_are_turned_off_show_as_off(init_config: Config):
    on = replace(init_config, mail=replace(init_config.mail, enabled=True),
                 warehouse=replace(init_config.warehouse, enabled=True))
    d = build_diagram(on)
    assert all(n.enabled for n in d.nodes) and all(e.enabled for e in d.edges)
    off = replace(on, import_=replace(on.import_, confirm=False, thanks_mail=False))
    d = build_diagram(off)
    confirm = next(e for e in d.edges if e.step == 3)
    assert not confirm.enabled and "import.confirm: false" in confirm.label
    assert d.node("thanks_mail").disabled_because == "import.thanks_mail: false"
    d = build_diagram(init_config)  # mail and warehouse off in the init file
    assert d.node("thanks_mail").disabled_because == "mail.enabled: false"
    assert {n.id for n in d.nodes if not n.enabled} == {
        "thanks_mail", "wms", "shipped", "shipping_mail", "shipping_report", "rms_done"}
    assert all(not e.enabled for e in d.edges if e.step in (9, 11))


def test_the_settings_are_the_numbers_on_the_edges(init_config: Config):
    cfg = replace(init_config, import_=replace(init_config.import_, interval=900.0,
                                               self_cancel_wait=3600.0),
                  warehouse=replace(init_config.warehouse, enabled=True, interval=1800.0))
    labels = {e.step: e.label for e in build_diagram(cfg).edges if e.step}
    assert labels[2] == "15分ごと・1時間待ち"
    assert labels[9] == "倉庫連携 30分ごと"


def test_node_kinds_give_the_renderers_their_shapes(init_config: Config):
    d = build_diagram(init_config)
    assert d.node("payment").kind is NodeKind.gate
    assert d.node("thanks_mail").kind is NodeKind.mail
    assert {n.kind for n in d.rule_nodes} == {NodeKind.rule}
