"""The pure core of unyo: orders, stages, gates, events, effects and `decide()`.

This package must import only the standard library: no I/O, no clock, no
database, nothing from `unyo.app`, `unyo.adapters` or outside packages.
"""

from unyo.domain.decide import (
    CancelOrder,
    CloseGate,
    Command,
    Decision,
    DomainError,
    ImportOrder,
    OpenGate,
    RecordConfirmed,
    RecordEffectFailed,
    SyncOrder,
    decide,
)
from unyo.domain.order import (
    NOT_FIXED,
    Address,
    Amounts,
    ChannelOrder,
    Effect,
    Event,
    Gate,
    Item,
    Order,
    Package,
    Payment,
    Person,
    Shipment,
)
from unyo.domain.vocabulary import (
    Actor,
    EffectKind,
    EventType,
    GateKind,
    MailKind,
    OrderType,
    RmsStatus,
    Stage,
)

__all__ = [
    "NOT_FIXED",
    "Actor",
    "Address",
    "Amounts",
    "CancelOrder",
    "ChannelOrder",
    "CloseGate",
    "Command",
    "Decision",
    "DomainError",
    "Effect",
    "EffectKind",
    "Event",
    "EventType",
    "Gate",
    "GateKind",
    "ImportOrder",
    "Item",
    "MailKind",
    "OpenGate",
    "Order",
    "OrderType",
    "Package",
    "Payment",
    "Person",
    "RecordConfirmed",
    "RecordEffectFailed",
    "RmsStatus",
    "Shipment",
    "Stage",
    "SyncOrder",
    "decide",
]
