"""Requests and results ↔ CSV cells: the one place warehouse column names are known.

Cells that a spreadsheet would read as a formula (leading `=`, `+`, `-`, `@`, tab or
carriage return: OWASP "CSV injection") get a leading apostrophe, in every cell,
because warehouse staff open these files in Excel. A leading apostrophe is taken
off again when results are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from unyo.app.warehouse import CancelRequest, ResultRow, RowProblem, ShipmentRequest
from unyo.flow.warehouse import REQUIRED_RESULT_KEYS

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CANCEL_HEADER = ("受注番号", "送付先ID", "指示")
CANCEL_WORD = "キャンセル"


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it as text, never as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def request_rows(request: ShipmentRequest, columns: Sequence[str]) -> Iterator[list[str]]:
    """One row per item of the package, cells in `columns` order."""
    base = {
        "order_number": request.order_number,
        "basket_id": str(request.basket_id),
        "ordered_at": request.ordered_at.strftime("%Y/%m/%d %H:%M:%S"),
        "recipient_name": request.recipient_name,
        "recipient_kana": request.recipient_kana,
        "postal_code": (f"{request.postal_code[:3]}-{request.postal_code[3:]}"
                        if len(request.postal_code) == 7 else request.postal_code),
        "address": request.address,
        "phone": request.phone,
        "delivery_method": request.delivery_method,
        "delivery_date": request.delivery_date.strftime("%Y/%m/%d")
        if request.delivery_date else "",
        "time_slot": request.time_slot,
        "gift": "1" if request.gift else "0",
        "noshi": request.noshi,
        "note": request.note,
        "cod_amount": str(request.cod_amount),
        "pickup_store_code": request.pickup_store_code,
        "pickup_store_name": request.pickup_store_name,
        "pickup_store_address": request.pickup_store_address,
        "drop_off": request.drop_off,
        "social_gift": request.social_gift,
        "priority": request.priority,
    }
    for item in request.items or ():
        cells = base | {"sku": item.sku or item.item_number, "item_name": item.name,
                        "choice": item.choice, "units": str(item.units)}
        yield [neutralise(cells[c]) for c in columns]


def cancel_rows(requests: Sequence[CancelRequest]) -> Iterator[list[str]]:
    for r in requests:
        for basket in r.basket_ids or (0,):
            yield [neutralise(r.order_number), str(basket) if basket else "", CANCEL_WORD]


def _cell(text: str) -> str:
    # NUL is refused by PostgreSQL text and jsonb: shown as U+FFFD, so the row is
    # reported (or its status kept) with what was there, never stopping the import
    text = text.strip().replace("\x00", "\ufffd")
    return text[1:] if text.startswith("'") else text


def result_rows(records: Iterator[tuple[int, list[str]]], headers: Mapping[str, str],
                required: Sequence[str] = REQUIRED_RESULT_KEYS,
                ) -> tuple[list[ResultRow], list[RowProblem]]:
    """Read (line, cells) records whose first is the header row. A column not in
    `required` may be missing (its cells read as empty: e.g. no carrier column, when
    `warehouse.default_carrier` gives the carrier)."""
    rows: list[ResultRow] = []
    problems: list[RowProblem] = []
    first = next(records, None)
    if first is None:
        return rows, [RowProblem(1, "空のファイルです（見出し行がありません）")]
    header_line, header = first
    where = {_cell(h).lstrip("\ufeff"): i for i, h in enumerate(header)}
    index: dict[str, int] = {}
    for key, name in headers.items():
        if name in where:
            index[key] = where[name]
    missing = [headers[k] for k in required if k not in index]
    if missing:
        return rows, [RowProblem(header_line, f"見出しに {', '.join(missing)} がありません")]
    for line, cells in records:
        if not any(c.strip() for c in cells):
            continue

        def get(key: str, cells: list[str] = cells) -> str:
            i = index.get(key)
            return _cell(cells[i]) if i is not None and i < len(cells) else ""

        rows.append(ResultRow(line, get("order_number"), get("basket_id"), get("carrier"),
                              get("tracking_number"), get("ship_date"), get("status")))
    return rows, problems
