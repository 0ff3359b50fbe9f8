"""The one place that decides how an order moves.

`decide(order, command)` is pure: it returns the order's next state with the
events and effects the move causes. `unyo.app` applies a `Decision` with a
compare-and-set on the order's version, so two workers can never both move an
order. Standard library only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone

from unyo.domain.confirmation import (
    NOTE_CONFIRMED_AT_RMS,
    NOTE_POSTAGE_FIXED,
    REASON_POSTAGE,
    needs_confirmation,
    postage_fixed,
    still_to_confirm,
)
from unyo.domain.edits import (
    PENDING_DETAILS,
    PENDING_RECIPIENT,
    PendingEdit,
    changes,
    person_values,
    same_person,
    with_recipient,
)
from unyo.domain.order import (
    NOT_FIXED,
    ChannelOrder,
    Effect,
    Event,
    Gate,
    MergedPart,
    Order,
    Package,
    Person,
    Shipment,
)
from unyo.domain.printing import GETA, Substitution, Unprintable
from unyo.domain.rules import (
    RELEASE_DATE_SETTING,
    SETTABLE,
    ActionKind,
    CompiledRule,
    Facts,
    RuleInput,
    hold_until,
)
from unyo.domain.rules import Action as RuleAction
from unyo.domain.stages import Action, allowed, check_move, refusal
from unyo.domain.vocabulary import (
    BEFORE_HANDOFF,
    CANCEL_REASONS,
    CANCELLED_RMS,
    DEFAULT_CANCEL_REASON,
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
REASON_RMS_UPDATE_FAILED = ("楽天で送付先を変更できませんでした（{}）: RMSの受注管理で送付先を"
                            "確認・変更してから、この確認を解除してください")
REASON_RMS_CANCEL_FAILED = "楽天でキャンセルできませんでした（{}）: RMSでキャンセルしてください"
REASON_CANCEL_AFTER_HANDOFF = "倉庫連携後にキャンセルされました"
REASON_WAREHOUSE = "倉庫: {}"
MERGE_CANCEL_TYPE = "統合の為キャンセル"  # Next Engine's cancel type for a merged-away order
REASON_MERGED = "同梱: {} に統合"
REASON_MERGED_PAYMENT = "入金待ち（同梱 {}）"
REASON_MERGED_GATE = "同梱 {}: {}"
REASON_MERGED_CANCELLED = "同梱した注文 {} がRMSでキャンセルされました（{}）: {}"
REASON_MERGED_CHANGED = "同梱した注文 {} の内容がRMSで変更されました"
REASON_RELEASE_UNKNOWN = "発売日不明"
"""A pre-order whose release date no text names: it waits for a person to set the date."""
REASON_RELEASE_SET = "発売日待ち（{}）"
REASON_CHANGED_TEXT = "内容が変わりました"
REASON_SURVIVOR_CANCELLED = ("RMSでキャンセルされましたが、同梱した注文 {} の荷物です: "
                             "この注文の商品を除いて出荷するか確認してください")

SETTLED_RMS = frozenset({RmsStatus.awaiting_shipment, RmsStatus.shipped,
                         RmsStatus.payment_in_progress, RmsStatus.payment_done})


class DomainError(Exception):
    """A command that makes no sense for the order it was given."""


@dataclass(frozen=True, slots=True)
class ImportOrder:
    """Create the order from the channel (受注取込).

    With `confirm`, an order that needs 注文確認 is marked for it (`Order.confirm_due`);
    the confirmation itself is decided after the rules ran (`ApplyRules`)."""

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
    # the shop confirms orders through unyo: an order whose confirmation failed before
    # unyo waited for the postage (ERROR_105) is confirmed once the postage is set
    confirm: bool = True


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
    by: str = ""  # who, for a person's action


@dataclass(frozen=True, slots=True)
class CloseGate:
    """Close the open gate(s) of a kind, or the one numbered `seq`."""

    kind: GateKind | None
    now: datetime
    actor: Actor = Actor.person
    note: str = ""
    seq: int | None = None
    by: str = ""  # who, for a person's action


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the order in unyo. A person's cancel is also sent to RMS (cancelOrder,
    through the outbox) with `rms_reason` (changeReasonDetailApply, `CANCEL_REASONS`),
    unless RMS has it cancelled already."""

    reason: str
    now: datetime
    actor: Actor = Actor.person
    by: str = ""  # who, for a person's action
    rms_reason: int = DEFAULT_CANCEL_REASON


@dataclass(frozen=True, slots=True)
class SetField:
    """A person sets a field for the warehouse (倉庫への指示, 配送方法) before hand-off;
    an empty value removes it."""

    name: str
    value: str
    now: datetime
    actor: Actor = Actor.person
    by: str = ""  # who, for a person's action


@dataclass(frozen=True, slots=True)
class SetReleaseDate:
    """A person gives a pre-order's release date (発売日): it is kept on the order (the
    rules read it before any text), the 発売日不明 question is answered, and the order is
    held until 00:00 JST of that day (the clock releases it then)."""

    day: date
    now: datetime
    actor: Actor = Actor.person
    note: str = ""
    by: str = ""  # who, for a person's action


@dataclass(frozen=True, slots=True)
class RemindPayment:
    """入金督促: queue the reminder mail for an order still unpaid `after_days` calendar
    days (JST) after its payment wait began, from 10:00 JST that day (no mail at
    midnight), paid by one of `methods` (settlementMethodCode, e.g. 9 銀行振込). Once per
    order: the day it was queued is kept on the order (`PAYMENT_REMINDER_SETTING`). An
    order that does not qualify is left unchanged (the step asks a few candidates)."""

    methods: frozenset[int]
    after_days: int
    now: datetime


@dataclass(frozen=True, slots=True)
class EditRecipient:
    """A person edits a package's recipient (送付先) in unyo, before the hand-off: the
    order keeps the new data (a sync reading RMS before RMS has it does not undo it:
    `unyo.domain.edits`), the change is recorded with who and why, and it is written
    back to RMS through the outbox (updateOrderSender), once per edit (the key)."""

    basket_id: int
    recipient: Person  # normalised and checked (`unyo.domain.edits.recipient_from`)
    now: datetime
    note: str = ""
    actor: Actor = Actor.person
    by: str = ""  # who, for a person's action


@dataclass(frozen=True, slots=True)
class EditDetails:
    """A person edits the order's ひとことメモ, requested delivery date or time slot
    (`unyo.domain.edits.details_from` values: only those given change), before the
    hand-off: kept on the order like a recipient edit, the rules run again (they read the
    date and slot), and written back to RMS through the outbox (updateOrderMemo)."""

    values: tuple[tuple[str, str], ...]
    now: datetime
    note: str = ""
    actor: Actor = Actor.person
    by: str = ""


@dataclass(frozen=True, slots=True)
class RecordRmsUpdated:
    """RMS accepted the write-back of an edit (the outbox effect with `key`)."""

    key: str
    now: datetime


@dataclass(frozen=True, slots=True)
class RecordEffectFailed:
    """An outside effect failed for good; a person must look (確認待ち)."""

    effect: EffectKind
    error: str
    now: datetime
    key: str = ""  # the effect's dedupe key (an edit's write-back: which edit)


@dataclass(frozen=True, slots=True)
class RecordRefusal:
    """A command an automated step gave the order was refused (`DomainError`): kept on
    the order as an event, so what did not happen is seen where the order is read."""

    command: str  # the refused command's name, e.g. RecordShipment
    reason: str
    now: datetime


@dataclass(frozen=True, slots=True)
class HandOff:
    """Send a ready order to the warehouse (倉庫連携): one request per package.

    It carries what the warehouse's printing found in the requests (unyo.domain.printing):
    the characters it replaces, recorded on the order as they go, and those with no
    substitute. One of those stops the order (確認待ち, one gate per character and field)
    until a person has closed a check gate naming it — the rule's or the hand-off's own —
    after which it goes as 〓 (GETA), so a name stops once, never at every release."""

    now: datetime
    substituted: tuple[Substitution, ...] = ()
    unprintable: tuple[Unprintable, ...] = ()


@dataclass(frozen=True, slots=True)
class PrintSlips:
    """A shop that packs itself (自社出荷) printed the order's 納品書 in batch `batch`: the
    hand-off of such a shop (at_warehouse, 印刷済), with no request to any WMS."""

    batch: int
    now: datetime
    by: str = ""


@dataclass(frozen=True, slots=True)
class TakeOutOfBatch:
    """A person takes a printed order out of its batch before it ships: back to 出荷OK
    (or 受注処理 while a gate is open), to be printed in a later batch."""

    batch: int
    now: datetime
    by: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class RecordShipment:
    """The warehouse shipped one package: its parcels (carrier, tracking, date).

    The parcels replace what was recorded for the package before, so the same result
    twice changes nothing and a corrected tracking number is reported again.
    """

    basket_id: int
    shipments: tuple[Shipment, ...]
    now: datetime
    source: str = ""  # where the result came from, e.g. "results.csv:12"


@dataclass(frozen=True, slots=True)
class RecordWarehouseRejection:
    """The warehouse cannot ship a package (e.g. 出荷不可: 欠品): a person must look."""

    basket_id: int | None
    reason: str
    now: datetime
    source: str = ""


@dataclass(frozen=True, slots=True)
class ApplyRules:
    """Run the shop's rules (受注処理) on the order: at import and whenever it changed.

    A rule whose condition holds opens its gates (unless a person closed the same gate
    while the order was as it is now), adds its tags and sets its fields; a rule that no
    longer holds closes the gates it opened itself. Then the confirmation is decided
    (`Order.confirm_due`): sent once no gate of kind confirm is open and the postage is
    fixed — never before this command ran.
    """

    rules: tuple[CompiledRule, ...]
    facts: Facts
    now: datetime
    next_business_day: Callable[[date], date] = field(compare=False)


@dataclass(frozen=True, slots=True)
class MergeInto:
    """同梱: this order's goods go in `survivor`'s parcel. It leaves the flow — cancelled in
    unyo with the reason (Next Engine: 統合の為キャンセル), never at RMS — and the survivor
    reports its shipping to RMS for it."""

    survivor: str
    rule: str
    now: datetime


@dataclass(frozen=True, slots=True)
class AbsorbOrders:
    """同梱: carry these orders (as they are just before their `MergeInto`) in this order's
    parcel: their items and amounts join the hand-off, their open gates come along."""

    orders: tuple[Order, ...]
    rule: str
    now: datetime
    tag: str = ""


@dataclass(frozen=True, slots=True)
class SyncMerged:
    """The channel's current view of an order merged into this one (its payment,
    cancellation or change at RMS reaches the order that carries it)."""

    channel: ChannelOrder
    now: datetime


Command = (ImportOrder | SyncOrder | RecordConfirmed | OpenGate | CloseGate | CancelOrder
           | SetField | SetReleaseDate | RecordEffectFailed | HandOff | RecordShipment
           | RecordWarehouseRejection | ApplyRules | MergeInto | AbsorbOrders | SyncMerged
           | RecordRefusal | RemindPayment | PrintSlips | TakeOutOfBatch | EditRecipient
           | EditDetails | RecordRmsUpdated)


@dataclass(frozen=True, slots=True)
class Decision:
    order: Order
    events: tuple[Event, ...] = ()
    effects: tuple[Effect, ...] = field(default_factory=tuple)
    merge: tuple[str, ...] = ()  # merge (同梱) rules that hold: the app looks for a group

    @property
    def changed(self) -> bool:
        return bool(self.events)

    def and_then(self, command: Command) -> Decision:
        """This decision followed by `command` on its result, as one decision.

        Stage moves of the two are folded into the net move (an import that would be
        ready but for a rule's gate is recorded as staying in processing).
        """
        nxt = decide(self.order, command)
        return Decision(nxt.order, _net_stage_moves(self.events + nxt.events),
                        self.effects + nxt.effects, nxt.merge or self.merge)


class _Builder:
    """Accumulates one decision: the evolving order, its events and effects."""

    def __init__(self, order: Order, now: datetime) -> None:
        self.order = order
        self.now = now
        self.events: list[Event] = []
        self.effects: list[Effect] = []
        self.by = ""  # who acts, when a person does
        self.merge: list[str] = []  # merge rules that hold

    def event(self, type_: EventType, actor: Actor, **data: object) -> None:
        if actor is Actor.person and self.by:
            data["by"] = self.by
        self.events.append(Event(type_, self.now, actor, dict(data)))

    def open_gate(self, kind: GateKind, reason: str, actor: Actor,
                  until: datetime | None = None, rule: str = "") -> None:
        if any(g.is_open and g.kind is kind and g.reason == reason and g.rule == rule
               for g in self.order.gates):
            return
        seq = max((g.seq for g in self.order.gates), default=0) + 1
        gate = Gate(kind, reason, self.now, actor, until=until, seq=seq, rule=rule,
                    fingerprint=self.order.fingerprint if rule else "")
        self.order = self.order.with_(gates=(*self.order.gates, gate))
        data: dict[str, object] = {"kind": kind.value, "reason": reason}
        if until is not None:
            data["until"] = until.isoformat()
        if rule:
            data["rule"] = rule
        self.event(EventType.gate_opened, actor, **data)

    def close_gates(self, match: object, actor: Actor, note: str = "") -> int:
        closed = 0
        gates = []
        for g in self.order.gates:
            if g.is_open and _matches(g, match):
                g = Gate(g.kind, g.reason, g.opened_at, g.opened_by, self.now, actor, note,
                         g.until, g.seq, g.rule, g.fingerprint)
                extra = {"rule": g.rule} if g.rule else {}
                self.event(EventType.gate_closed, actor, kind=g.kind.value, reason=g.reason,
                           seq=g.seq, note=note, **extra)
                closed += 1
            gates.append(g)
        if closed:
            self.order = self.order.with_(gates=tuple(gates))
        return closed

    def set_stage(self, stage: Stage, actor: Actor) -> None:
        old = self.order.stage
        check_move(old, stage)  # the stage table (domain/stages.py) is the only authority
        if stage is not old:
            self.order = self.order.with_(stage=stage)
            self.event(EventType.stage_changed, actor, **{"from": old.value, "to": stage.value})

    def rederive(self, actor: Actor) -> None:
        """`ready` is derived: processing with no open gate."""
        if self.order.stage in BEFORE_HANDOFF:
            blocked = any(g.closed_at is None for g in self.order.gates)
            self.set_stage(Stage.processing if blocked else Stage.ready, actor)

    def decision(self) -> Decision:
        return Decision(self.order, tuple(self.events), tuple(self.effects), tuple(self.merge))


def _matches(gate: Gate, match: object) -> bool:
    if isinstance(match, GateKind):
        return gate.kind is match
    if isinstance(match, int):
        return gate.seq == match
    if callable(match):
        return bool(match(gate))
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
    b.by = getattr(command, "by", "")
    match command:
        case SyncOrder():
            _sync(b, command.channel, command.confirm)
        case RecordConfirmed():
            _confirmed(b)
        case OpenGate():
            _check(order, Action.open_gate)
            b.open_gate(command.kind, command.reason, command.actor, command.until)
        case CloseGate():
            match_ = command.seq if command.seq is not None else command.kind
            if not b.close_gates(match_, command.actor, command.note):
                raise DomainError(f"order {order.number} has no such open gate")
            if any(g.is_open and g.kind is GateKind.confirm for g in order.gates) and \
                    not any(g.is_open and g.kind is GateKind.confirm for g in b.order.gates):
                # a person released the confirmation: it goes out now (the rules ran at
                # import, before any confirm gate could be opened)
                _settle_confirmation(b, command.actor, "released")
        case CancelOrder():
            _check(order, Action.cancel)
            if command.actor is Actor.person and command.rms_reason not in CANCEL_REASONS:
                raise DomainError(f"unknown RMS cancel reason {command.rms_reason}")
            at_rms = command.actor is Actor.person and order.rms_status not in CANCELLED_RMS
            _cancel(b, command.reason, command.actor,
                    **({"rms_reason": command.rms_reason} if at_rms else {}))
            if at_rms:
                _cancel_at_rms(b, command)
        case SetField():
            _set_field(b, command)
        case SetReleaseDate():
            _set_release_date(b, command)
        case RemindPayment():
            _remind_payment(b, command)
        case EditRecipient():
            _edit_recipient(b, command)
        case EditDetails():
            _edit_details(b, command)
        case RecordRmsUpdated():
            _rms_updated(b, command)
        case RecordEffectFailed():
            b.event(EventType.effect_failed, Actor.system, effect=command.effect.value,
                    error=command.error)
            # A failed shipping report needs a person even on a shipped order.
            if command.effect is EffectKind.cancel_at_rms:
                # cancelled in unyo, not at RMS: a person cancels it there
                b.open_gate(GateKind.check, REASON_RMS_CANCEL_FAILED.format(
                    command.error)[:300], Actor.system)
            elif command.effect is EffectKind.update_at_rms and \
                    order.stage is not Stage.cancelled:
                # edited in unyo, refused at RMS: a person changes it there (or not); the
                # edit waits no more, so what the person then sets in RMS wins at the sync
                b.open_gate(GateKind.check, REASON_RMS_UPDATE_FAILED.format(
                    command.error[:120]), Actor.system)
                _settle_pending(b, command.key)
            elif order.stage in (*BEFORE_HANDOFF, Stage.at_warehouse) or (
                    command.effect is EffectKind.report_shipping
                    and order.stage is Stage.shipped):
                b.open_gate(GateKind.check, f"{_EFFECT_NAMES[command.effect]}に失敗: "
                            f"{command.error}"[:300], Actor.system)
        case ApplyRules():
            if allowed(order, Action.apply_rules):  # past the hand-off the rules are done
                _apply_rules(b, command)
        case HandOff():
            _hand_off(b, command)
        case PrintSlips():
            _check(order, Action.print_slips)
            b.order = b.order.with_(settings=_with_setting(b.order, PRINT_BATCH,
                                                           str(command.batch)))
            b.set_stage(Stage.at_warehouse, Actor.system)
            # printing is the shop's daily hand-off, not a manual touch on the order: not
            # counted against the automation rate (who printed is kept in the data)
            b.event(EventType.slips_printed, Actor.system, batch=command.batch,
                    baskets=[p.basket_id for p in order.channel.packages],
                    **({"by": command.by} if command.by else {}))
        case TakeOutOfBatch():
            _check(order, Action.take_out)
            if order.setting(PRINT_BATCH) != str(command.batch):
                raise DomainError(f"order {order.number} is not in print batch {command.batch}")
            b.order = b.order.with_(settings=_with_setting(b.order, PRINT_BATCH, None))
            b.set_stage(Stage.ready, Actor.person)
            b.event(EventType.taken_out_of_batch, Actor.person, batch=command.batch,
                    note=command.note)
        case RecordShipment():
            _record_shipment(b, command)
        case RecordWarehouseRejection():
            _warehouse_rejected(b, command)
        case MergeInto():
            _merge_into(b, command)
        case AbsorbOrders():
            _absorb(b, command)
        case SyncMerged():
            _sync_merged(b, command)
        case RecordRefusal():
            b.event(EventType.command_refused, Actor.system, command=command.command,
                    reason=command.reason[:500])
    b.rederive(Actor.system if not isinstance(command, CloseGate | CancelOrder)
               else command.actor)
    return b.decision()


PRINT_BATCH = "print_batch"
"""The setting naming the print batch a printed order (自社出荷) is in."""


def _with_setting(order: Order, name: str, value: str | None) -> tuple[tuple[str, str], ...]:
    kept = {k: v for k, v in order.settings if k != name}
    if value is not None:
        kept[name] = value
    return tuple(sorted(kept.items()))


_EFFECT_NAMES = {
    EffectKind.confirm_order: "注文確認",
    EffectKind.send_mail: "メール送信",
    EffectKind.hand_off_to_warehouse: "倉庫連携",
    EffectKind.report_shipping: "発送完了報告",
    EffectKind.cancel_at_warehouse: "倉庫へのキャンセル連絡",
    EffectKind.cancel_at_rms: "楽天でのキャンセル",
    EffectKind.notify_staff: "スタッフへのアラート通知",
    EffectKind.update_at_rms: "楽天への変更の反映",
}


def _check(order: Order, action: Action) -> None:
    why = refusal(order, action)
    if why is not None:
        raise DomainError(why)


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
    for reason in channel.problems():  # nonsense data: a person looks before it ships
        b.open_gate(GateKind.check, reason, Actor.system)
    if cmd.confirm and needs_confirmation(channel):
        # decided once the rules ran (ApplyRules), never here
        b.order = b.order.with_(confirm_due=True)
    if cmd.thanks_mail:
        b.effects.append(Effect(EffectKind.send_mail,
                                f"mail:{MailKind.thanks}:{cmd.shop}:{channel.order_number}",
                                {"mail": MailKind.thanks.value,
                                 "order_number": channel.order_number}))
    b.rederive(Actor.system)
    return b.decision()


def _confirm_effect(order: Order) -> Effect:
    """confirmOrder through the outbox. The key carries the order's fingerprint: the same
    decision decided again is the same effect (the outbox keeps one), and an order asked
    again after its amounts changed (a confirmation refused before unyo waited for the
    postage) is a new one."""
    return Effect(EffectKind.confirm_order,
                  f"confirm:{order.shop}:{order.number}:{order.fingerprint}",
                  {"order_number": order.number})


def _is_postage_gate(g: Gate) -> bool:
    return g.kind is GateKind.confirm and not g.rule and g.reason == REASON_POSTAGE


def _settle_confirmation(b: _Builder, actor: Actor, after: str) -> None:
    """Decide the confirmation of an order marked for it (`confirm_due`), after the rules
    ran (`after="rules"`) or a person released it (`after="released"`).

    RMS confirmed it meanwhile (a person in RMS, RMS's 自動注文確認) or it stopped: nothing
    to send, its confirm gates close. Postage -9999 is never sent (RMS answers ERROR_105):
    the order waits with 送料を確定してください — unless a person let it go on (closed that
    gate) — and the gate closes by itself once the postage is set. With
    no confirm gate open, confirmOrder goes to the outbox, once: `confirm_due` is cleared
    in the same decision.
    """
    order = b.order
    if not order.confirm_due:
        return
    if not still_to_confirm(order):
        b.order = order.with_(confirm_due=False)
        b.close_gates(lambda g: g.kind is GateKind.confirm, Actor.channel,
                      NOTE_CONFIRMED_AT_RMS)
        return
    if not postage_fixed(order.channel):
        if not any(_is_postage_gate(g) and g.closed_by is Actor.person for g in order.gates):
            b.open_gate(GateKind.confirm, REASON_POSTAGE, Actor.system)
        return  # never sent with the postage at -9999
    b.close_gates(lambda g: _is_postage_gate(g), Actor.system, NOTE_POSTAGE_FIXED)
    if any(g.is_open and g.kind is GateKind.confirm for g in b.order.gates):
        return  # a rule's confirm: wait: a person releases it
    b.effects.append(_confirm_effect(b.order))
    b.order = b.order.with_(confirm_due=False)
    b.event(EventType.confirm_requested, actor, after=after)


def _confirmed(b: _Builder) -> None:
    b.event(EventType.order_confirmed, Actor.system)
    status = b.order.rms_status
    if status == RmsStatus.awaiting_confirmation:
        status = int(RmsStatus.rakuten_processing)
    b.order = b.order.with_(rms_status=status, confirmed_at=b.order.confirmed_at or b.now,
                            confirm_due=False)


def _cancel(b: _Builder, reason: str, actor: Actor, **data: object) -> None:
    b.close_gates(None, actor, "注文キャンセル")
    b.order = b.order.with_(confirm_due=False)  # nothing to confirm any more
    b.set_stage(Stage.cancelled, actor)
    b.event(EventType.order_cancelled, actor, reason=reason, **data)


def _cancel_at_rms(b: _Builder, command: CancelOrder) -> None:
    """RMS cancelOrder through the outbox, with who and why. One per order (the key): an
    order is cancelled in unyo once."""
    order = b.order
    b.effects.append(Effect(
        EffectKind.cancel_at_rms, f"rms-cancel:{order.shop}:{order.number}",
        {"order_number": order.number, "reason_code": command.rms_reason,
         "by": command.by, "note": command.reason}))


# ---- edits (送付先) --------------------------------------------------------------------


def _edit_recipient(b: _Builder, cmd: EditRecipient) -> None:
    order = b.order
    if not allowed(order, Action.set_field):
        raise DomainError(f"cannot edit the recipient of an order that is {order.stage}")
    if order.merged or order.merged_into:
        raise DomainError(f"order {order.number} is part of a merge (同梱): edit it at RMS")
    if order.rms_status not in (RmsStatus.awaiting_confirmation,
                                RmsStatus.rakuten_processing, RmsStatus.awaiting_shipment):
        # updateOrderSender: status 100/200/300 only (reference/rakuten-rms.md, Writing
        # back to RMS)
        raise DomainError(f"RMS status {order.rms_status}: the recipient can only be "
                          "changed at RMS status 100, 200 or 300")
    packages = order.channel.packages
    target = next((p for p in packages if p.basket_id == cmd.basket_id), None)
    if target is None:
        raise DomainError(f"order {order.number} has no package {cmd.basket_id}")
    after = with_recipient(target.recipient, person_values(cmd.recipient))
    changed = changes(target.recipient, after)
    if not changed:
        return  # nothing to change
    setting = PENDING_RECIPIENT.format(cmd.basket_id)
    pending = PendingEdit.load(order.setting(setting) or "")
    before = pending.before if pending is not None else person_values(target.recipient)
    values = person_values(after)
    digest = hashlib.sha1(repr(sorted(values.items())).encode()).hexdigest()[:16]
    key = f"rms-sender:{order.shop}:{order.number}:{cmd.basket_id}:{digest}"
    channel = replace(order.channel, packages=tuple(
        replace(p, recipient=after) if p is target else p for p in packages))
    settings = dict(order.settings) | {setting: PendingEdit(before, values, key).dump()}
    b.order = order.with_(channel=channel, fingerprint=channel.fingerprint(),
                          settings=tuple(sorted(settings.items())))
    b.event(EventType.recipient_edited, cmd.actor, basket_id=cmd.basket_id,
            changes=changed, note=cmd.note)
    b.effects.append(Effect(EffectKind.update_at_rms, key, {
        "order_number": order.number, "basket_id": cmd.basket_id, "recipient": values,
        "by": cmd.by, "note": cmd.note}))


def _details_of(c: ChannelOrder) -> dict[str, str]:
    day = c.requested_delivery_date
    return {"memo": c.memo, "delivery_date": day.isoformat() if day else "",
            "shipping_term": c.shipping_term or "0"}


def _with_details(c: ChannelOrder, values: dict[str, str]) -> ChannelOrder:
    day = values.get("delivery_date", "")
    return replace(c, memo=values["memo"], shipping_term=values["shipping_term"],
                   requested_delivery_date=date.fromisoformat(day) if day else None)


def _edit_details(b: _Builder, cmd: EditDetails) -> None:
    order = b.order
    if not allowed(order, Action.set_field):
        raise DomainError(f"cannot edit an order that is {order.stage}")
    if order.rms_status in CANCELLED_RMS:
        raise DomainError(f"order {order.number} is cancelled at RMS")
    current = _details_of(order.channel)
    given = dict(cmd.values)
    after = current | {k: v for k, v in given.items() if k in current}
    changed = {k: [current[k], after[k]] for k in current if current[k] != after[k]}
    if not changed:
        return
    pending = PendingEdit.load(order.setting(PENDING_DETAILS) or "")
    before = pending.before if pending is not None else current
    digest = hashlib.sha1(repr(sorted(after.items())).encode()).hexdigest()[:16]
    key = f"rms-memo:{order.shop}:{order.number}:{digest}"
    channel = _with_details(order.channel, after)
    settings = dict(order.settings) | {PENDING_DETAILS: PendingEdit(before, after, key).dump()}
    b.order = order.with_(channel=channel, settings=tuple(sorted(settings.items())))
    b.event(EventType.details_edited, cmd.actor, changes=changed, note=cmd.note)
    # updateOrderMemo changes only the fields given: the ones this edit changed
    b.effects.append(Effect(EffectKind.update_at_rms, key, {
        "what": "memo", "order_number": order.number,
        "values": {k: after[k] for k in changed}, "by": cmd.by, "note": cmd.note}))


def _settle_pending(b: _Builder, key: str) -> str:
    """Mark the kept edit whose write-back has `key` as settled at RMS (accepted, or
    refused for good): from now on a different read of RMS wins. Returns what it was."""
    settings = dict(b.order.settings)
    for name, text in settings.items():
        pending = PendingEdit.load(text) if name.startswith(
            ("pending_recipient:", PENDING_DETAILS)) else None
        if pending is not None and pending.key == key and not pending.accepted:
            settings[name] = replace(pending, accepted=True).dump()
            b.order = b.order.with_(settings=tuple(sorted(settings.items())))
            return "details" if name == PENDING_DETAILS else "recipient"
    return ""


def _rms_updated(b: _Builder, cmd: RecordRmsUpdated) -> None:
    what = _settle_pending(b, cmd.key)
    if what:
        b.event(EventType.rms_updated, Actor.system, what=what)


def _keep_edits(order: Order, new: ChannelOrder) -> tuple[ChannelOrder, dict[str, str]]:
    """RMS's view of the order with the edits RMS does not show yet, and the order's
    settings with the edits RMS now shows (or changed since it accepted them) let go."""
    settings = dict(order.settings)
    packages = list(new.packages)
    for i, p in enumerate(packages):
        name = PENDING_RECIPIENT.format(p.basket_id)
        pending = PendingEdit.load(settings.get(name, ""))
        if pending is None:
            settings.pop(name, None)
            continue
        after = with_recipient(p.recipient, pending.after)
        before = with_recipient(p.recipient, pending.before)
        if same_person(p.recipient, after):
            del settings[name]  # RMS has the edit: nothing more to keep
        elif same_person(p.recipient, before) or not pending.accepted:
            packages[i] = replace(p, recipient=after)  # RMS does not have it yet
        else:
            del settings[name]  # changed at RMS after it took the edit: RMS's wins
    new = replace(new, packages=tuple(packages))
    pending = PendingEdit.load(settings.get(PENDING_DETAILS, ""))
    if pending is None:
        settings.pop(PENDING_DETAILS, None)
    else:
        shown = _details_of(new)
        if shown == pending.after:
            del settings[PENDING_DETAILS]
        elif shown == pending.before or not pending.accepted:
            new = _with_details(new, pending.after)
        else:
            del settings[PENDING_DETAILS]
    return new, settings


def _sync(b: _Builder, new: ChannelOrder, confirm: bool) -> None:
    order = b.order
    if any(k.startswith(("pending_recipient:", PENDING_DETAILS)) for k, _ in order.settings):
        new, settings = _keep_edits(order, new)
        order = b.order = order.with_(settings=tuple(sorted(settings.items())))
    old = order.channel
    old_status = order.rms_status
    if new.order_number != old.order_number:
        raise DomainError(f"sync of {new.order_number} applied to {old.order_number}")
    if new.status != old_status:
        b.event(EventType.channel_status_changed, Actor.channel,
                **{"from": old_status, "to": new.status})
    fingerprint = new.fingerprint()
    if order.stage in (Stage.at_warehouse, Stage.shipped):
        new = _keep_shipments(old, new)
    b.order = order.with_(channel=new, fingerprint=fingerprint, rms_status=new.status,
                      confirmed_at=new.confirmed_at or order.confirmed_at)
    stage = order.stage
    if stage in (Stage.cancelled, Stage.shipped):
        if new.status in CANCELLED_RMS and stage is Stage.shipped and old_status != new.status:
            b.event(EventType.cancel_after_handoff, Actor.channel, rms_status=new.status)
        return
    if new.status in CANCELLED_RMS and order.merged:
        if old_status not in CANCELLED_RMS:
            _survivor_cancelled(b, new.status)
        return
    if new.status in CANCELLED_RMS:
        if stage in BEFORE_HANDOFF:
            _cancel(b, f"RMS {new.status} キャンセル", Actor.channel)
        else:
            b.event(EventType.cancel_after_handoff, Actor.channel, rms_status=new.status)
            b.open_gate(GateKind.check, REASON_CANCEL_AFTER_HANDOFF, Actor.channel)
            b.effects.append(Effect(
                EffectKind.cancel_at_warehouse, f"wh-cancel:{order.shop}:{order.number}",
                {"order_number": order.number,
                 "baskets": [p.basket_id for p in new.packages]}))
        return
    payment_gate = next((g for g in b.order.gates if g.is_open and _own_payment(g)), None)
    if new.status in SETTLED_RMS and payment_gate is not None:
        b.close_gates(_own_payment, Actor.channel, f"RMS {new.status}")
        b.event(EventType.payment_settled, Actor.channel, rms_status=new.status)
    elif (new.status == RmsStatus.rakuten_processing and old_status in SETTLED_RMS
          and payment_gate is None and stage in BEFORE_HANDOFF):
        b.event(EventType.payment_reverted, Actor.channel, rms_status=new.status)
        b.open_gate(GateKind.payment, REASON_PAYMENT, Actor.channel)
    if new.status == RmsStatus.awaiting_change:
        b.open_gate(GateKind.check, REASON_AWAITING_CHANGE, Actor.channel)
    if fingerprint != order.fingerprint or new.status != old_status or new.notes != old.notes:
        # New nonsense in the data (amounts are in the fingerprint); what a person saw and
        # released stays released.
        seen = set(old.problems())
        for reason in new.problems():
            if reason not in seen:
                b.open_gate(GateKind.check, reason, Actor.channel)
    if fingerprint == order.fingerprint and new.details() != old.details():
        b.event(EventType.order_updated, Actor.channel)  # the rules run again on it
    if fingerprint != order.fingerprint:
        fixed_only = _only_fixed(old, new)
        gift_address = not fixed_only and _only_gift_address(old, new)
        b.event(EventType.order_changed, Actor.channel, total_before=old.amounts.total,
                total_after=new.amounts.total, **({"amounts_fixed": True} if fixed_only
                                                   else {}),
                **({"gift_address": True} if gift_address else {}))
        if not (fixed_only and order.confirm_due) and not gift_address:
            # (the postage the confirmation waited for is no change to look at, nor the
            # address a social gift waited for: the rules run again and let it go on)
            b.open_gate(GateKind.check, REASON_CHANGED, Actor.channel)
        if confirm and not order.confirm_due and order.confirmed_at is None and \
                new.status == RmsStatus.awaiting_confirmation and \
                old.amounts.any_not_fixed and not new.amounts.any_not_fixed:
            # Postage fixed in RMS after confirmOrder refused it (ERROR_105, before unyo
            # waited for the postage): confirmed again once the rules ran.
            b.order = b.order.with_(confirm_due=True)


def _only_gift_address(old: ChannelOrder, new: ChannelOrder) -> bool:
    """The orders differ only in that a social gift's recipient gave their address: the
    packages that waited for it have it now (Rakuten's placeholders replaced), and nothing
    else changed."""
    if not old.awaiting_gift_address or len(old.packages) != len(new.packages):
        return False
    packages = []
    for o, p in zip(old.packages, new.packages, strict=True):
        if o.awaiting_address and p.social_gift is not None and not p.awaiting_address:
            p = replace(p, recipient=o.recipient, social_gift=o.social_gift)
        packages.append(p)
    if all(p is n for p, n in zip(packages, new.packages, strict=True)):
        return False
    return replace(new, packages=tuple(packages)).fingerprint() == old.fingerprint()


def _only_fixed(old: ChannelOrder, new: ChannelOrder) -> bool:
    """The orders differ only in amounts that were not fixed (-9999) and now are."""
    a, n = old.amounts, new.amounts
    names = ("goods", "postage", "delivery", "payment_charge", "total", "request")
    if not a.any_not_fixed or n.any_not_fixed:
        return False
    masked = replace(n, **{k: NOT_FIXED for k in names if getattr(a, k) == NOT_FIXED})
    if len(old.packages) != len(new.packages):
        return False
    packages = tuple(replace(p, postage_price=NOT_FIXED if o.postage_price == NOT_FIXED
                             else p.postage_price,
                             total_price=NOT_FIXED if o.total_price == NOT_FIXED
                             else p.total_price)
                     for o, p in zip(old.packages, new.packages, strict=True))
    return replace(new, amounts=masked, packages=packages).fingerprint() == old.fingerprint()


# ---- warehouse -------------------------------------------------------------------------


def _set_field(b: _Builder, cmd: SetField) -> None:
    if cmd.name not in SETTABLE:
        raise DomainError(f"{cmd.name!r} is not a field for the warehouse "
                          f"({', '.join(SETTABLE)})")
    if not allowed(b.order, Action.set_field):
        raise DomainError(f"cannot change {cmd.name} of an order that is {b.order.stage}")
    value = cmd.value.strip()
    if (b.order.setting(cmd.name) or "") == value:
        return
    settings = {k: v for k, v in b.order.settings if k != cmd.name}
    if value:
        settings[cmd.name] = value
    b.order = b.order.with_(settings=tuple(sorted(settings.items())))
    b.event(EventType.field_set, cmd.actor, field=cmd.name, value=value)


_JST = timezone(timedelta(hours=9))


def _set_release_date(b: _Builder, cmd: SetReleaseDate) -> None:
    if not allowed(b.order, Action.set_field) or not allowed(b.order, Action.open_gate):
        raise DomainError(f"cannot set the release date of an order that is {b.order.stage}")
    value = cmd.day.isoformat()
    settings = dict(b.order.settings) | {RELEASE_DATE_SETTING: value}
    if b.order.setting(RELEASE_DATE_SETTING) != value:
        b.order = b.order.with_(settings=tuple(sorted(settings.items())))
        b.event(EventType.field_set, cmd.actor, field=RELEASE_DATE_SETTING, value=value)
    b.close_gates(lambda g: g.reason == REASON_RELEASE_UNKNOWN, cmd.actor,
                  cmd.note or f"発売日 {value}")
    until = datetime.combine(cmd.day, time(), _JST)
    reason = REASON_RELEASE_SET.format(value)
    if until > cmd.now and not any(g.is_open and g.kind is GateKind.hold and g.reason == reason
                                   and g.until == until for g in b.order.gates):
        b.open_gate(GateKind.hold, reason, cmd.actor, until)


PAYMENT_REMINDER_SETTING = "payment_reminder"
"""The order's setting that says a 督促 mail was queued, and on which day (JST)."""


REMINDER_HOUR = time(10, 0)
"""The hour (JST) from which a due 督促 mail is queued on its day."""


def payment_reminder_at(opened_at: datetime, after_days: int) -> datetime:
    """When the reminder for a payment wait begun at `opened_at` falls due."""
    day = opened_at.astimezone(_JST).date() + timedelta(days=after_days)
    return datetime.combine(day, REMINDER_HOUR, _JST)


def payment_reminder_due(order: Order, methods: frozenset[int], after_days: int,
                         now: datetime) -> bool:
    """Whether `RemindPayment` would queue the reminder now."""
    gate = order.open_gate(GateKind.payment)
    return (gate is not None and order.stage in BEFORE_HANDOFF
            and order.channel.payment.method_code in methods
            and order.setting(PAYMENT_REMINDER_SETTING) is None
            and payment_reminder_at(gate.opened_at, after_days) <= now)


def _remind_payment(b: _Builder, cmd: RemindPayment) -> None:
    order = b.order
    if not payment_reminder_due(order, cmd.methods, cmd.after_days, cmd.now):
        return
    gate = order.open_gate(GateKind.payment)
    assert gate is not None
    day = cmd.now.astimezone(_JST).date().isoformat()
    settings = dict(order.settings) | {PAYMENT_REMINDER_SETTING: day}
    b.order = order.with_(settings=tuple(sorted(settings.items())))
    days = (cmd.now.astimezone(_JST).date() - gate.opened_at.astimezone(_JST).date()).days
    b.event(EventType.payment_reminder_queued, Actor.system,
            method=order.channel.payment.method_code, days=days)
    b.effects.append(Effect(EffectKind.send_mail,
                            f"mail:{MailKind.reminder}:{order.shop}:{order.number}",
                            {"mail": MailKind.reminder.value, "order_number": order.number}))


def unseen(order: Order, found: tuple[Unprintable, ...]) -> list[Unprintable]:
    """The unprintable characters no person has seen on this order yet: no check gate a
    person closed names them (its reason holds the character's own reason text)."""
    seen = [g.reason for g in order.gates if not g.is_open and g.kind is GateKind.check
            and g.closed_by is Actor.person]
    return [u for u in found if not any(u.reason in r for r in seen)]


def _hand_off(b: _Builder, cmd: HandOff) -> None:
    order = b.order
    _check(order, Action.hand_off)
    stopped = unseen(order, cmd.unprintable)
    if stopped:
        for u in stopped:
            b.open_gate(GateKind.check, u.reason[:300], Actor.system)
        return
    if cmd.substituted or cmd.unprintable:
        b.event(EventType.characters_substituted, Actor.system,
                substitutions=[s.as_data() for s in cmd.substituted]
                + [Substitution(u.field, u.char, GETA).as_data() | {"seen": "person"}
                   for u in cmd.unprintable])
    baskets = [p.basket_id for p in order.channel.packages]
    b.set_stage(Stage.at_warehouse, Actor.system)
    b.event(EventType.handed_off, Actor.system, baskets=baskets)
    b.effects.append(Effect(EffectKind.hand_off_to_warehouse,
                            f"handoff:{order.shop}:{order.number}",
                            {"order_number": order.number, "baskets": baskets}))


def _parcels(shipments: tuple[Shipment, ...]) -> list[tuple[str, str, str]]:
    return sorted((s.carrier_code, s.tracking_number,
                   s.ship_date.isoformat() if s.ship_date else "") for s in shipments)


def _record_shipment(b: _Builder, cmd: RecordShipment) -> None:
    order = b.order
    _check(order, Action.record_shipment)
    packages = order.channel.packages
    target = next((p for p in packages if p.basket_id == cmd.basket_id), None)
    if target is None:
        raise DomainError(f"order {order.number} has no package {cmd.basket_id}")
    if not cmd.shipments:
        raise DomainError("a shipment needs at least one parcel")
    if _parcels(target.shipments) == _parcels(cmd.shipments):
        return  # the same result again: nothing changes
    fresh = tuple(replace(s, shipping_detail_id=None) for s in cmd.shipments)
    packages = tuple(replace(p, shipments=fresh) if p is target else p for p in packages)
    b.order = order.with_(channel=replace(order.channel, packages=packages))
    shipped = sum(1 for p in packages if p.shipments)
    b.event(EventType.shipment_recorded, Actor.system, basket_id=cmd.basket_id,
            parcels=[list(x) for x in _parcels(fresh)], changed=bool(target.shipments),
            shipped_packages=shipped, packages=len(packages), partial=shipped < len(packages),
            source=cmd.source)
    if shipped < len(packages):
        return
    first = order.stage is Stage.at_warehouse
    b.set_stage(Stage.shipped, Actor.system)
    # Orders merged into this one (同梱) went in the same parcel: each is reported to RMS
    # with the same tracking, or it would wait at RMS 300 for ever.
    parts = [m for m in order.merged if m.rms_status not in CANCELLED_RMS]
    b.effects.extend(_merged_report_effect(b.order, m) for m in parts)
    if order.rms_status in CANCELLED_RMS and not parts:
        return  # cancelled at RMS meanwhile: nothing to report (the check gate says so)
    if order.rms_status not in CANCELLED_RMS:
        b.effects.append(_report_effect(b.order))
    if first:
        b.effects.append(Effect(EffectKind.send_mail,
                                f"mail:{MailKind.shipping}:{order.shop}:{order.number}",
                                {"mail": MailKind.shipping.value, "order_number": order.number}))


def _report_effect(order: Order) -> Effect:
    """発送完了報告 of every package; the key carries the tracking data, so a changed
    tracking number is reported again and the same one never twice."""
    packages = [{"basket_id": p.basket_id, "shipments": [list(x) for x in _parcels(p.shipments)]}
                for p in order.channel.packages]
    digest = hashlib.sha1(repr(packages).encode()).hexdigest()[:16]
    return Effect(EffectKind.report_shipping, f"ship:{order.shop}:{order.number}:{digest}",
                  {"order_number": order.number, "packages": packages})


def _merged_report_effect(order: Order, part: MergedPart) -> Effect:
    """発送完了報告 of an order merged into `order`: its own basket, the parcel's tracking."""
    shipments = [list(x) for p in order.channel.packages for x in _parcels(p.shipments)]
    packages = [{"basket_id": part.basket_id, "shipments": shipments}]
    digest = hashlib.sha1(repr(packages).encode()).hexdigest()[:16]
    return Effect(EffectKind.report_shipping,
                  f"ship:{order.shop}:{part.order_number}:{digest}",
                  {"order_number": part.order_number, "packages": packages,
                   "merged_into": order.number})


def _warehouse_rejected(b: _Builder, cmd: RecordWarehouseRejection) -> None:
    order = b.order
    _check(order, Action.record_rejection)
    reason = REASON_WAREHOUSE.format(cmd.reason)[:300]
    if any(g.is_open and g.kind is GateKind.check and g.reason == reason for g in order.gates):
        return  # already waiting for a person for this reason
    b.event(EventType.warehouse_rejected, Actor.system, basket_id=cmd.basket_id,
            reason=cmd.reason, source=cmd.source)
    b.open_gate(GateKind.check, reason, Actor.system)


def _keep_shipments(old: ChannelOrder, new: ChannelOrder) -> ChannelOrder:
    """A re-read keeps the parcels the warehouse reported that RMS does not show yet."""
    recorded = {p.basket_id: p.shipments for p in old.packages if p.shipments}
    if not recorded:
        return new
    packages: list[Package] = []
    for p in new.packages:
        kept = recorded.get(p.basket_id)
        packages.append(replace(p, shipments=kept) if kept and not p.shipments else p)
    return replace(new, packages=tuple(packages))


# ---- merge (同梱) -------------------------------------------------------------------------

_MERGED_PAYMENT_PREFIX = REASON_MERGED_PAYMENT.split("{")[0]


def _own_payment(g: Gate) -> bool:
    """The order's own payment gate (not one it carries for an order merged into it)."""
    return g.kind is GateKind.payment and not g.reason.startswith(_MERGED_PAYMENT_PREFIX)


def mergeable(order: Order) -> str | None:
    """Why `order` cannot take part in a merge, or None."""
    if not allowed(order, Action.merge):
        return f"order {order.number} is {order.stage}"
    if order.merged_into:
        return f"order {order.number} is merged into {order.merged_into}"
    if len(order.channel.packages) != 1:
        return f"order {order.number} has {len(order.channel.packages)} destinations"
    if order.rms_status in CANCELLED_RMS:
        return f"order {order.number} is cancelled at RMS"
    if order.channel.amounts.any_not_fixed:  # RMS refuses to confirm it until it is fixed
        return f"order {order.number} has amounts not fixed yet (-9999)"
    if order.confirm_due:  # merged away, nobody would confirm it: Rakuten cancels it
        return f"order {order.number} is not confirmed at RMS yet (注文確認)"
    return None


def _merge_into(b: _Builder, cmd: MergeInto) -> None:
    order = b.order
    problem = mergeable(order)
    if problem is None and order.merged:
        problem = f"order {order.number} carries merged orders itself"
    if problem is not None:
        raise DomainError(f"cannot merge: {problem}")
    if cmd.survivor == order.number:
        raise DomainError("an order cannot be merged into itself")
    reason = REASON_MERGED.format(cmd.survivor)
    b.close_gates(None, Actor.system, reason)
    b.set_stage(Stage.cancelled, Actor.system)
    b.event(EventType.order_cancelled, Actor.system, reason=reason,
            cancel_type=MERGE_CANCEL_TYPE, rms="not cancelled at RMS")
    b.event(EventType.merged_into, Actor.system, into=cmd.survivor, rule=cmd.rule)
    b.order = b.order.with_(merged_into=cmd.survivor)


def _absorb(b: _Builder, cmd: AbsorbOrders) -> None:
    order = b.order
    problem = mergeable(order)
    if problem is not None:
        raise DomainError(f"cannot merge: {problem}")
    parts = list(order.merged)
    for other in cmd.orders:
        problem = mergeable(other)
        if problem is None and other.merged:
            problem = f"order {other.number} carries merged orders itself"
        if problem is None and (other.number == order.number
                                or order.merged_part(other.number) is not None):
            problem = f"order {other.number} is already in this parcel"
        if problem is not None:
            raise DomainError(f"cannot merge: {problem}")
        (package,) = other.channel.packages
        parts.append(MergedPart(other.number, other.id, package.basket_id, package.items,
                                other.channel.amounts, package.total_price,
                                other.channel.fingerprint(), other.rms_status, b.now))
        # What the merged order still waited for, its parcel now waits for.
        for g in other.open_gates:
            if _own_payment(g):
                b.open_gate(GateKind.payment, REASON_MERGED_PAYMENT.format(other.number),
                            Actor.system)
            else:
                b.open_gate(g.kind, REASON_MERGED_GATE.format(other.number, g.reason)[:300],
                            Actor.system, g.until)
    b.order = b.order.with_(merged=tuple(parts))
    amounts = b.order.parcel_amounts
    b.event(EventType.merged_from, Actor.system, rule=cmd.rule,
            orders=[{"number": o.number, "id": o.id} for o in cmd.orders],
            items=len(b.order.parcel_items), total=amounts.total)
    if cmd.tag and cmd.tag not in b.order.tags:
        b.order = b.order.with_(tags=(*b.order.tags, cmd.tag))
        b.event(EventType.tag_added, Actor.system, tag=cmd.tag, rule=cmd.rule)


def _survivor_cancelled(b: _Builder, status: int) -> None:
    """RMS cancelled an order that carries merged orders: its parcel still holds theirs, so
    it is not cancelled in unyo; it goes without its own items (see the hand-off), and a
    person looks."""
    order = b.order
    numbers = "、".join(m.order_number for m in order.merged)
    b.close_gates(_own_payment, Actor.channel, f"RMS {status} キャンセル")
    if order.stage in BEFORE_HANDOFF:
        b.open_gate(GateKind.check, REASON_SURVIVOR_CANCELLED.format(numbers)[:300],
                    Actor.channel)
    elif order.stage is Stage.at_warehouse:
        b.event(EventType.cancel_after_handoff, Actor.channel, rms_status=status)
        b.open_gate(GateKind.check, f"{REASON_CANCEL_AFTER_HANDOFF}（同梱した注文 {numbers} "
                    "も同じ荷物のため、倉庫へ取消を送っていません）"[:300], Actor.channel)


def _sync_merged(b: _Builder, cmd: SyncMerged) -> None:
    order, new = b.order, cmd.channel
    part = order.merged_part(new.order_number)
    if part is None:
        raise DomainError(f"order {new.order_number} is not merged into {order.number}")
    if order.stage is Stage.cancelled:
        return
    number, stage = part.order_number, order.stage
    fingerprint = new.fingerprint()
    if new.status == part.rms_status and fingerprint == part.fingerprint:
        return  # nothing new
    if new.status != part.rms_status:
        b.event(EventType.channel_status_changed, Actor.channel, merged=number,
                **{"from": part.rms_status, "to": new.status})
    updated = replace(part, rms_status=new.status, fingerprint=fingerprint)
    payment = REASON_MERGED_PAYMENT.format(number)

    def is_payment(g: Gate) -> bool:
        return g.kind is GateKind.payment and g.reason == payment

    if new.status in CANCELLED_RMS:
        if part.rms_status in CANCELLED_RMS:
            _replace_part(b, updated)
            return
        b.close_gates(is_payment, Actor.channel, f"RMS {new.status} キャンセル")
        if stage in BEFORE_HANDOFF:  # its goods leave the parcel before the warehouse has it
            what, keep = "同梱から外しました", False
        elif stage is Stage.at_warehouse:
            what, keep = "倉庫連携済みです: 倉庫でこの注文の商品を止めてください", True
        else:
            what, keep = "出荷済みです", True
        b.event(EventType.merged_order_cancelled, Actor.channel, order_number=number,
                rms_status=new.status, removed=not keep)
        b.open_gate(GateKind.check, REASON_MERGED_CANCELLED.format(number, new.status,
                                                                   what)[:300], Actor.channel)
        if keep:
            _replace_part(b, updated)
        else:
            b.order = b.order.with_(merged=tuple(m for m in b.order.merged if m is not part))
        return
    if new.status in SETTLED_RMS and any(g.is_open and is_payment(g) for g in order.gates):
        b.close_gates(is_payment, Actor.channel, f"RMS {new.status}")
        b.event(EventType.payment_settled, Actor.channel, rms_status=new.status, merged=number)
    elif (new.status == RmsStatus.rakuten_processing and part.rms_status in SETTLED_RMS
          and stage in BEFORE_HANDOFF):
        b.event(EventType.payment_reverted, Actor.channel, rms_status=new.status, merged=number)
        b.open_gate(GateKind.payment, payment, Actor.channel)
    if fingerprint != part.fingerprint:
        b.event(EventType.merged_order_changed, Actor.channel, order_number=number,
                total_before=part.amounts.total, total_after=new.amounts.total)
        if stage in BEFORE_HANDOFF and len(new.packages) == 1:
            (package,) = new.packages
            updated = replace(updated, basket_id=package.basket_id, items=package.items,
                              amounts=new.amounts, package_total=package.total_price)
        if stage is not Stage.shipped:
            b.open_gate(GateKind.check, REASON_MERGED_CHANGED.format(number), Actor.channel)
    _replace_part(b, updated)


def _replace_part(b: _Builder, part: MergedPart) -> None:
    b.order = b.order.with_(merged=tuple(part if m.order_number == part.order_number else m
                                            for m in b.order.merged))


RULE_NO_LONGER_HOLDS = "ルールの条件に該当しなくなりました"


def _apply_rules(b: _Builder, cmd: ApplyRules) -> None:
    facts = cmd.facts if cmd.facts.tags == b.order.tags else replace(cmd.facts,
                                                                     tags=b.order.tags)
    given = RuleInput(b.order, facts, cmd.now)
    matched = {r.name for r in cmd.rules if r.when(given)}
    holding = {g.rule for g in b.order.gates if g.rule and g.closed_at is None}
    for rule in cmd.rules:
        if rule.name not in matched:
            if rule.name not in holding:
                continue
            # A rule that no longer holds takes back its checks; its holds end by their time
            # (a date-based condition may stop holding before the hold is due).
            # A `hold: {while: true}` (no time) ends here too.
            b.close_gates(lambda g, name=rule.name: g.rule == name
                          and (g.kind in (GateKind.check, GateKind.confirm)
                               or (g.kind is GateKind.hold and g.until is None))
                          and g.opened_by is Actor.system, Actor.system, RULE_NO_LONGER_HOLDS)
            continue
        before = len(b.events)
        for action in rule.then:
            if action.kind is ActionKind.check:
                reason = action.reason(given)
                if action.render is not None:  # a quoting reason: the quote may have changed
                    _close_rule_checks(b, rule.name, _stale(action.message, reason))
                _rule_gate(b, rule.name, GateKind.check, reason, None)
            elif action.kind is ActionKind.hold and action.hold is not None:
                if action.hold.while_matched:
                    _rule_gate(b, rule.name, GateKind.hold, action.message or rule.name, None)
                    continue
                until = hold_until(action.hold, given, cmd.next_business_day)
                if action.hold.field == "release_date":
                    _release_question(b, rule.name, asked=until is None)
                if until is not None and until > cmd.now:
                    _rule_gate(b, rule.name, GateKind.hold, action.message or rule.name, until)
            elif action.kind is ActionKind.tag and action.message not in b.order.tags:
                b.order = b.order.with_(tags=(*b.order.tags, action.message))
                b.event(EventType.tag_added, Actor.system, tag=action.message, rule=rule.name)
            elif action.kind is ActionKind.confirm:
                if b.order.confirm_due:  # only a confirmation still to send is kept back
                    _rule_gate(b, rule.name, GateKind.confirm, action.message or rule.name,
                               None)
            elif action.kind is ActionKind.merge:
                if rule.name not in b.merge:
                    b.merge.append(rule.name)  # the app finds the group (it needs the store)
                if action.unmergeable:
                    _unmergeable_check(b, rule.name, action, given)
            elif action.kind is ActionKind.set and \
                    b.order.setting(action.target) != action.message:
                settings = dict(b.order.settings) | {action.target: action.message}
                b.order = b.order.with_(settings=tuple(sorted(settings.items())))
                b.event(EventType.field_set, Actor.system, field=action.target,
                        value=action.message, rule=rule.name)
        if len(b.events) > before:
            b.events.insert(before, Event(EventType.rule_matched, b.now, Actor.system,
                                          {"rule": rule.name}))
    _settle_confirmation(b, Actor.system, "rules")  # the confirmation, after the rules


REASON_MERGE_POSSIBLE = "同梱できない未出荷の注文はなくなりました"


def _unmergeable_check(b: _Builder, rule: str, action: RuleAction, given: RuleInput) -> None:
    """A merge rule asks a person (確認待ち) only about the buyer's open orders that cannot
    share the parcel (`Facts.merge_blockers`, in its reason); once none is left — merged,
    shipped or changed — it takes the question back."""
    if given.facts.merge_blockers:
        reason = action.reason(given)
        _close_rule_checks(b, rule, _stale(action.unmergeable, reason))
        _rule_gate(b, rule, GateKind.check, reason, None)
    else:  # only its own question: the rule's other checks stay as they are
        prefix = action.unmergeable.split("{", 1)[0]
        b.close_gates(lambda g: g.rule == rule and g.kind is GateKind.check and g.is_open
                      and g.opened_by is Actor.system and g.reason.startswith(prefix),
                      Actor.system, REASON_MERGE_POSSIBLE)


def _stale(message: str, reason: str) -> Callable[[str], bool]:
    """Reasons an earlier run of a quoting check gave (same fixed start, other quote)."""
    prefix = message.split("{", 1)[0]
    return lambda r: r.startswith(prefix) and r != reason


def _close_rule_checks(b: _Builder, rule: str, which: Callable[[str], bool]) -> None:
    b.close_gates(lambda g: g.rule == rule and g.kind is GateKind.check and g.is_open
                  and g.opened_by is Actor.system and which(g.reason), Actor.system,
                  REASON_CHANGED_TEXT)


def _release_question(b: _Builder, rule: str, *, asked: bool) -> None:
    """A pre-order rule that holds until the release date and finds none asks a person
    (確認待ち 発売日不明); once a date is known — read or set by a person — it takes the
    question back."""
    if asked:
        _rule_gate(b, rule, GateKind.check, REASON_RELEASE_UNKNOWN, None)
    else:
        _close_rule_checks(b, rule, lambda r: r == REASON_RELEASE_UNKNOWN)


def _rule_gate(b: _Builder, rule: str, kind: GateKind, reason: str,
               until: datetime | None) -> None:
    """Open a rule's gate unless, while the order was as it is now, a person closed it or
    (a hold) it already ran its time. A confirmation a person released stays released
    (it may still wait for the postage, whose fixing changes the order)."""
    for g in b.order.gates:
        if (g.rule == rule and g.kind is kind and g.reason == reason and not g.is_open
                and (g.fingerprint == b.order.fingerprint or kind is GateKind.confirm)
                and (g.closed_by is Actor.person or kind is GateKind.hold)):
            return
    b.open_gate(kind, reason, Actor.system, until, rule=rule)


def _net_stage_moves(events: tuple[Event, ...]) -> tuple[Event, ...]:
    moves = [e for e in events if e.type is EventType.stage_changed]
    if len(moves) < 2:
        return events
    first, last = moves[0].data["from"], moves[-1].data["to"]
    kept = [e for e in events if e.type is not EventType.stage_changed]
    if first != last:
        net = Event(EventType.stage_changed, moves[-1].at, moves[-1].actor,
                    {**moves[-1].data, "from": first})
        kept.insert(events.index(moves[-1]) - (len(moves) - 1), net)
    return tuple(kept)
