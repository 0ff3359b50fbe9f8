"""A person's edit of an order (issue 18 item 1): what is typed, normalised and checked,
and the edit kept on the order until RMS has it. Standard library only.

Typed values are normalised the way people mean them: NFKC (full-width digits and
half-width kana the same as their plain forms), control characters removed, spaces at
the ends stripped; postal codes and phone numbers keep their digits only (a phone is
written back to RMS in its three parts). Every problem is said in Japanese, with what to
do, so a form or the CLI can show it as it is.

The edit is kept on the order (`Order.settings`, `PENDING_RECIPIENT`) until a read of RMS
shows it: a sync that reads RMS before the write-back reached it must not undo the edit.
A sync showing the edit ends the wait; one showing the data from before the edit keeps
the edit; one showing anything else after RMS accepted (or refused for good) the
write-back is a change made at RMS since, and wins.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date

from unyo.domain.order import Address, Person

PENDING_RECIPIENT = "pending_recipient:{}"
"""The order's setting that holds a recipient edit RMS has not shown yet, per basket."""

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県")

# Lengths RMS accepts in SenderModel *(unconfirmed at Rakuten: the limits of RMS's order
# screen, 受注管理 送付先; the emulator enforces the same)*.
LIMITS = {"family_name": 20, "first_name": 20, "family_name_kana": 20,
          "first_name_kana": 20, "city": 40, "sub_address": 100}

LABELS = {
    "family_name": "姓", "first_name": "名", "family_name_kana": "姓（カナ）",
    "first_name_kana": "名（カナ）", "postal_code": "郵便番号", "prefecture": "都道府県",
    "city": "市区町村", "sub_address": "番地・建物名", "phone": "電話番号",
}
"""What each field of a recipient is called on the screens (the edit's changes)."""

FIELDS = tuple(LABELS)


class EditError(ValueError):
    """What is wrong with an edit, in Japanese (one line per problem)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("、".join(problems))
        self.problems = problems


def clean(text: str) -> str:
    """NFKC, no control characters (line breaks included), ends stripped, runs of spaces
    one space."""
    t = unicodedata.normalize("NFKC", text)
    t = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in t)
    return " ".join(t.split())


def only_digits(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if "0" <= ch <= "9")


def phone_parts(phone: str) -> tuple[str, str, str]:
    """A phone number in RMS's three parts (phoneNumber1-3): as written with hyphens where
    it has two, else split 3-4-4 / 2-4-4 by its length (the parts RMS shows are kept
    as they were when the number is unchanged)."""
    t = unicodedata.normalize("NFKC", phone)
    groups = ["".join(ch for ch in g if ch.isdigit()) for g in t.replace("ー", "-").split("-")]
    groups = [g for g in groups if g]
    if len(groups) == 3:
        return groups[0], groups[1], groups[2]
    d = only_digits(phone)
    if len(d) == 11:
        return d[:3], d[3:7], d[7:]
    if len(d) == 10:
        return (d[:2], d[2:6], d[6:]) if d[:2] in ("03", "06") else (d[:3], d[3:6], d[6:])
    return d[:3], d[3:6], d[6:]


def recipient_from(values: dict[str, str]) -> Person:
    """A recipient from typed values (the keys of `FIELDS`), normalised and checked;
    `EditError` lists every problem."""
    v = {k: clean(values.get(k, "")) for k in FIELDS}
    v["postal_code"] = only_digits(values.get("postal_code", ""))
    phone = clean(values.get("phone", ""))
    problems: list[str] = []
    if not v["family_name"]:
        problems.append("姓を入力してください")
    for name, limit in LIMITS.items():
        if len(v[name]) > limit:
            problems.append(f"{LABELS[name]}は{limit}文字以内にしてください（{len(v[name])}文字）")
    if len(v["postal_code"]) != 7:
        problems.append("郵便番号は7桁の数字で入力してください")
    if v["prefecture"] not in PREFECTURES:
        problems.append("都道府県を正しく入力してください（例: 東京都）")
    if not v["city"]:
        problems.append("市区町村を入力してください")
    if not v["sub_address"]:
        problems.append("番地・建物名を入力してください")
    d = only_digits(phone)
    if not 10 <= len(d) <= 11 or any(not ch.isdigit() and ch not in "-ー ()" for ch in phone):
        problems.append("電話番号は10桁か11桁の数字で入力してください（ハイフン可）")
    if problems:
        raise EditError(problems)
    return Person(v["family_name"], v["first_name"], v["family_name_kana"],
                  v["first_name_kana"], "-".join(phone_parts(phone)),
                  Address(v["postal_code"], v["prefecture"], v["city"], v["sub_address"]))


def person_values(p: Person) -> dict[str, str]:
    """A recipient as the edit's flat values (the keys of `FIELDS`)."""
    a = p.address
    return {"family_name": p.family_name, "first_name": p.first_name,
            "family_name_kana": p.family_name_kana, "first_name_kana": p.first_name_kana,
            "postal_code": a.postal_code, "prefecture": a.prefecture, "city": a.city,
            "sub_address": a.sub_address, "phone": p.phone}


def same_person(a: Person, b: Person) -> bool:
    """The same recipient, phone compared by its digits (RMS keeps it in parts)."""
    x, y = person_values(a), person_values(b)
    x["phone"], y["phone"] = only_digits(x["phone"]), only_digits(y["phone"])
    return x == y


def changes(before: Person, after: Person) -> dict[str, list[str]]:
    """Field → [before, after] for each field the edit changes."""
    x, y = person_values(before), person_values(after)
    return {k: [x[k], y[k]] for k in FIELDS
            if (only_digits(x[k]) != only_digits(y[k]) if k == "phone" else x[k] != y[k])}


def with_recipient(p: Person, values: dict[str, str]) -> Person:
    a = Address(values["postal_code"], values["prefecture"], values["city"],
                values["sub_address"])
    return replace(p, family_name=values["family_name"], first_name=values["first_name"],
                   family_name_kana=values["family_name_kana"],
                   first_name_kana=values["first_name_kana"], phone=values["phone"],
                   address=a)


PENDING_DETAILS = "pending_details"
"""The order's setting that holds an edit of its ひとことメモ / delivery date and time."""

MEMO_LIMIT = 1000  # updateOrderMemo memo (reference/rakuten-rms.md, Writing back to RMS)
DETAILS = ("memo", "delivery_date", "shipping_term")
DETAIL_LABELS = {"memo": "ひとことメモ", "delivery_date": "お届け日",
                 "shipping_term": "お届け時間帯"}


def shipping_term_from(text: str) -> str:
    """RMS shippingTerm from what is typed: 0 none, 1 午前, 2 午後, 9 other, or h1h2 (e.g.
    1416 for 14–16時: 0 ≤ h1 < h2 ≤ 24); `14-16` is read as 1416, `08-12` as 812 (RMS's
    number). ValueError otherwise."""
    t = only_digits(text) if any(ch.isdigit() for ch in text) else ""
    named = {"午前": "1", "午前中": "1", "午後": "2", "指定なし": "0", "": "0"}
    key = clean(text)
    if key in named:
        return named[key]
    if t in ("0", "1", "2", "9"):
        return t
    parts = [p for p in re.split(r"[^0-9]+", unicodedata.normalize("NFKC", text)) if p]
    if len(parts) == 2 and all(len(p) <= 2 for p in parts):
        t = f"{int(parts[0]):02d}{int(parts[1]):02d}"
    if len(t) == 4 and 0 <= int(t[:2]) < int(t[2:]) <= 24:
        return str(int(t))  # a number at RMS: 0812 is 812
    raise ValueError(text)


def details_from(values: dict[str, str], today: date) -> dict[str, str]:
    """The given ones of ひとことメモ (`memo`), delivery date (`delivery_date`, ISO) and time
    slot (`shipping_term`, RMS's code), normalised and checked; `EditError` lists every
    problem. A memo keeps its line breaks (other control characters go)."""
    out: dict[str, str] = {}
    problems: list[str] = []
    if "memo" in values:
        memo = unicodedata.normalize("NFC", values["memo"]).replace("\r\n", "\n")
        memo = "".join(ch for ch in memo if ch == "\n" or unicodedata.category(ch)[0] != "C")
        out["memo"] = memo.strip()
        if len(out["memo"]) > MEMO_LIMIT:
            problems.append(f"ひとことメモは{MEMO_LIMIT}文字以内にしてください"
                            f"（{len(out['memo'])}文字）")
    if "delivery_date" in values:
        text = unicodedata.normalize("NFKC", values["delivery_date"]).strip().replace("/", "-")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            problems.append("お届け日は 2026-12-10 の形で入力してください")
        else:
            if day < today:
                problems.append("お届け日が過ぎた日付です")
            out["delivery_date"] = day.isoformat()
    if "shipping_term" in values:
        try:
            out["shipping_term"] = shipping_term_from(values["shipping_term"])
        except ValueError:
            problems.append("お届け時間帯は 午前・午後・指定なし か 14-16 の形で入力してください")
    if problems:
        raise EditError(problems)
    return out


@dataclass(frozen=True, slots=True)
class PendingEdit:
    """A recipient edit RMS has not shown yet: the data before and after, the outbox key
    of its write-back, and whether RMS accepted it."""

    before: dict[str, str]
    after: dict[str, str]
    key: str
    accepted: bool = False

    def dump(self) -> str:
        return json.dumps({"before": self.before, "after": self.after, "key": self.key,
                           "accepted": self.accepted}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def load(cls, text: str) -> PendingEdit | None:
        try:
            d = json.loads(text)
            return cls(dict(d["before"]), dict(d["after"]), str(d["key"]),
                       bool(d.get("accepted")))
        except (ValueError, KeyError, TypeError):
            return None


__all__ = [
    "DETAILS",
    "DETAIL_LABELS",
    "FIELDS",
    "LABELS",
    "PENDING_DETAILS",
    "PENDING_RECIPIENT",
    "PREFECTURES",
    "EditError",
    "PendingEdit",
    "changes",
    "clean",
    "details_from",
    "person_values",
    "phone_parts",
    "recipient_from",
    "same_person",
    "shipping_term_from",
    "with_recipient",
]
