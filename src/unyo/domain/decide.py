"""The one place that decides how an order moves.

`decide(order, command)` is pure: it returns the order's next state with the
events and effects the move causes. `unyo.app` applies a `Decision` with a
compare-and-set on the order's version, so two workers can never both move an
order. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from unyo.domain.order import ChannelOrder, Effect, Event, Gate, Order
from unyo.domain.vocabulary import (
    BEFORE_HANDOFF,
    CANCELLED_RMS,
    Actor,
    EffectKind,
    EventType,
    GateKind,
    MailKind,
    RmsStatus,
    Stage,
)

REASON_PAYMENT = "入金待ち（楽天処理中）"
REASON_CHANGED = "注文内容が変更されました"
REASON_AWAITING_CHANGE = "変更確定待ち（RMS 400）"
REASON_CANCEL_AFTER_HANDOFF = "倉庫連携後にキャンセルされました"

SETTLED_RMS = frozenset({RmsStatus.awaiting_shipment, RmsStatus.shipped,
                         RmsStatus.payment_in_progress, RmsStatus.payment_done})


class DomainError(Exception):
    """A command that makes no sense for the order it was given."""


@dataclass(frozen=True, slots=True)
class ImportOrder:
    """Create the order from the channel (受注取込)."""

    shop: str
    channel: ChannelOrder
    now: datetime
    confirm: bool = True
    thanks_mail: bool = True


@dataclass(frozen=True, slots=True)
class SyncOrder:
    """The channel's current view of an imported order (payment sync, step 7 / 14)."""

    channel: ChannelOrder
    now: datetime
    confirm: bool = True  # the shop confirms orders through unyo


@dataclass(frozen=True, slots=True)
class RecordConfirmed:
    """RMS accepted confirmOrder for this order."""

    now: datetime


@dataclass(frozen=True, slots=True)
class OpenGate:
    kind: GateKind
    reason: str
    now: datetime
    actor: Actor = Actor.system
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CloseGate:
    """Close the open gate(s) of a kind, or the one numbered `seq`."""

    kind: GateKind | None
    now: datetime
    actor: Actor = Actor.person
    note: str = ""
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    reason: str
    now: datetime
    actor: Actor = Actor.person


@dataclass(frozen=True, slots=True)
class RecordEffectFailed:
    """An outside effect failed for good; a person must look (確認待ち)."""

    effect: EffectKind
    error: str
    now: datetime


Command = (ImportOrder | SyncOrder | RecordConfirmed | OpenGate | CloseGate | CancelOrder
           | RecordEffectFailed)


@dataclass(frozen=True, slots=True)
class Decision:
    order: Order
    events: tuple[Event, ...] = ()
    effects: tuple[Effect, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return bool(self.events)


class _Builder:
    """Accumulates one decision: the evolving order, its events and effects."""

    def __init__(self, order: Order, now: datetime) -> None:
        self.order = order
        self.now = now
        self.events: list[Event] = []
        self.effects: list[Effect] = []

    def event(self, type_: EventType, actor: Actor, **data: object) -> None:
        self.events.append(Event(type_, self.now, actor, dict(data)))

    def open_gate(self, kind: GateKind, reason: str, actor: Actor,
                  until: datetime | None = None) -> None:
        if any(g.is_open and g.kind is kind and g.reason == reason for g in self.order.gates):
            return
        seq = max((g.seq for g in self.order.gates), default=0) + 1
        gate = Gate(kind, reason, self.now, actor, until=until, seq=seq)
        self.order = replace(self.order, gates=(*self.order.gates, gate))
        data: dict[str, object] = {"kind": kind.value, "reason": reason}
        if until is not None:
            data["until"] = until.isoformat()
        self.event(EventType.gate_opened, actor, **data)

    def close_gates(self, match: object, actor: Actor, note: str = "") -> int:
        closed = 0
        gates = []
        for g in self.order.gates:
            if g.is_open and _matches(g, match):
                g = replace(g, closed_at=self.now, closed_by=actor, close_note=note)
                self.event(EventType.gate_closed, actor, kind=g.kind.value, reason=g.reason,
                           seq=g.seq, note=note)
                closed += 1
            gates.append(g)
        self.order = replace(self.order, gates=tuple(gates))
        return closed

    def set_stage(self, stage: Stage, actor: Actor) -> None:
        old = self.order.stage
        if stage is not old:
            self.order = replace(self.order, stage=stage)
            self.event(EventType.stage_changed, actor, **{"from": old.value, "to": stage.value})

    def rederive(self, actor: Actor) -> None:
        """`ready` is derived: processing with no open gate."""
        if self.order.stage in BEFORE_HANDOFF:
            self.set_stage(Stage.ready if not self.order.open_gates else Stage.processing, actor)

    def decision(self) -> Decision:
        return Decision(self.order, tuple(self.events), tuple(self.effects))


def _matches(gate: Gate, match: object) -> bool:
    if isinstance(match, GateKind):
        return gate.kind is match
    if isinstance(match, int):
        return gate.seq == match
    return True


def decide(order: Order | None, command: Command) -> Decision:
    """Return the next state of `order` under `command`, with its events and effects."""
    if isinstance(command, ImportOrder):
        if order is not None:
            raise DomainError(f"order {order.number} is already imported")
        return _import(command)
    if order is None:
        raise DomainError("no order to apply the command to")
    b = _Builder(order, command.now)
    match command:
        case SyncOrder():
            _sync(b, command.channel, command.confirm)
        case RecordConfirmed():
            _confirmed(b)
        case OpenGate():
            if order.stage not in (*BEFORE_HANDOFF, Stage.at_warehouse):
                raise DomainError(f"cannot open a gate on an order that is {order.stage}")
            b.open_gate(command.kind, command.reason, command.actor, command.until)
        case CloseGate():
            match_ = command.seq if command.seq is not None else command.kind
            if not b.close_gates(match_, command.actor, command.note):
                raise DomainError(f"order {order.number} has no such open gate")
        case CancelOrder():
            if order.stage not in BEFORE_HANDOFF:
                raise DomainError(f"cannot cancel an order that is {order.stage}")
            _cancel(b, command.reason, command.actor)
        case RecordEffectFailed():
            b.event(EventType.effect_failed, Actor.system, effect=command.effect.value,
                    error=command.error)
            if order.stage in (*BEFORE_HANDOFF, Stage.at_warehouse):
                b.open_gate(GateKind.check, f"{_EFFECT_NAMES[command.effect]}に失敗: "
                            f"{command.error}"[:300], Actor.system)
    b.rederive(Actor.system if not isinstance(command, CloseGate | CancelOrder)
               else command.actor)
    return b.decision()


_EFFECT_NAMES = {
    EffectKind.confirm_order: "注文確認",
    EffectKind.send_mail: "メール送信",
    EffectKind.hand_off_to_warehouse: "倉庫連携",
    EffectKind.report_shipping: "発送完了報告",
}


def _import(cmd: ImportOrder) -> Decision:
    channel = cmd.channel
    order = Order(shop=cmd.shop, channel=channel, stage=Stage.processing,
                  imported_at=cmd.now, fingerprint=channel.fingerprint(),
                  rms_status=channel.status, confirmed_at=channel.confirmed_at)
    b = _Builder(order, cmd.now)
    b.event(EventType.order_imported, Actor.system, rms_status=channel.status,
            total=channel.amounts.total)
    if channel.status not in SETTLED_RMS:
        b.open_gate(GateKind.payment, REASON_PAYMENT, Actor.system)
    if cmd.confirm and _needs_confirm(channel):
        b.effects.append(_confirm_effect(cmd.shop, channel, first=True))
    if cmd.thanks_mail:
        b.effects.append(Effect(EffectKind.send_mail,
                                f"mail:{MailKind.thanks}:{cmd.shop}:{channel.order_number}",
                                {"mail": MailKind.thanks.value,
                                 "order_number": channel.order_number}))
    b.rederive(Actor.system)
    return b.decision()


def _needs_confirm(channel: ChannelOrder) -> bool:
    """RMS 100 needs 注文確認; so does a 選択制決済 order (e.g. 代引き) that reached 300
    without a confirmation date (reference/rakuten-rms.md)."""
    return channel.status == RmsStatus.awaiting_confirmation or (
        channel.status == RmsStatus.awaiting_shipment and channel.confirmed_at is None)


def _confirm_effect(shop: str, channel: ChannelOrder, *, first: bool) -> Effect:
    # A retry after the order changed (e.g. postage fixed after ERROR_105) is a new
    # effect: its key carries the order's fingerprint.
    key = f"confirm:{shop}:{channel.order_number}"
    if not first:
        key += f":{channel.fingerprint()}"
    return Effect(EffectKind.confirm_order, key, {"order_number": channel.order_number})


def _confirmed(b: _Builder) -> None:
    b.event(EventType.order_confirmed, Actor.system)
    status = b.order.rms_status
    if status == RmsStatus.awaiting_confirmation:
        status = int(RmsStatus.rakuten_processing)
    b.order = replace(b.order, rms_status=status, confirmed_at=b.order.confirmed_at or b.now)


def _cancel(b: _Builder, reason: str, actor: Actor) -> None:
    b.close_gates(None, actor, "注文キャンセル")
    b.set_stage(Stage.cancelled, actor)
    b.event(EventType.order_cancelled, actor, reason=reason)


def _sync(b: _Builder, new: ChannelOrder, confirm: bool) -> None:
    order = b.order
    old = order.channel
    old_status = order.rms_status
    if new.order_number != old.order_number:
        raise DomainError(f"sync of {new.order_number} applied to {old.order_number}")
    if new.status != old_status:
        b.event(EventType.channel_status_changed, Actor.channel,
                **{"from": old_status, "to": new.status})
    fingerprint = new.fingerprint()
    b.order = replace(order, channel=new, fingerprint=fingerprint, rms_status=new.status,
                      confirmed_at=new.confirmed_at or order.confirmed_at)
    stage = order.stage
    if stage in (Stage.cancelled, Stage.shipped):
        if new.status in CANCELLED_RMS and stage is Stage.shipped and old_status != new.status:
            b.event(EventType.cancel_after_handoff, Actor.channel, rms_status=new.status)
        return
    if new.status in CANCELLED_RMS:
        if stage in BEFORE_HANDOFF:
            _cancel(b, f"RMS {new.status} キャンセル", Actor.channel)
        else:
            b.event(EventType.cancel_after_handoff, Actor.channel, rms_status=new.status)
            b.open_gate(GateKind.check, REASON_CANCEL_AFTER_HANDOFF, Actor.channel)
        return
    payment_gate = b.order.open_gate(GateKind.payment)
    if new.status in SETTLED_RMS and payment_gate is not None:
        b.close_gates(GateKind.payment, Actor.channel, f"RMS {new.status}")
        b.event(EventType.payment_settled, Actor.channel, rms_status=new.status)
    elif (new.status == RmsStatus.rakuten_processing and old_status in SETTLED_RMS
          and payment_gate is None and stage in BEFORE_HANDOFF):
        b.event(EventType.payment_reverted, Actor.channel, rms_status=new.status)
        b.open_gate(GateKind.payment, REASON_PAYMENT, Actor.channel)
    if new.status == RmsStatus.awaiting_change:
        b.open_gate(GateKind.check, REASON_AWAITING_CHANGE, Actor.channel)
    if fingerprint != order.fingerprint:
        b.event(EventType.order_changed, Actor.channel, total_before=old.amounts.total,
                total_after=new.amounts.total)
        b.open_gate(GateKind.check, REASON_CHANGED, Actor.channel)
        if confirm and new.status == RmsStatus.awaiting_confirmation and \
                old.amounts.any_not_fixed and not new.amounts.any_not_fixed:
            # Postage fixed in RMS after confirmOrder refused it (ERROR_105): try again.
            b.effects.append(_confirm_effect(order.shop, new, first=False))
