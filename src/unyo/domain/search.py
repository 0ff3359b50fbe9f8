"""Search keys: an order found the way people look for it.

An operator on the phone hears 「タカハシです」, reads 髙橋 on a slip, types 高橋 or
ﾀｶﾊｼ or the last four digits of a phone number. Every text that can find an order is
*folded* into one form, at write time (the order's search terms, stored beside it) and
at query time (what was typed), and a term is found by any prefix of its folded form:

- Unicode NFKC: half-width katakana → full-width (ｶﾞ → ガ), full-width letters and digits
  → ASCII (０９０ → 090), compatibility ideographs → their unified form (塚 → 塚);
- hiragana → katakana, small kana → large (ョ → ヨ: older systems write ｼﾖｳ for ショウ);
- 異体字 → one form, from `VARIANTS` (髙 → 高, 﨑 → 崎, 齋 / 齊 → 斎, 邊 / 邉 → 辺 …);
- letters case-folded; spaces and the usual separators dropped ("高橋 太郎" = 高橋太郎).

An order's terms: its number (whole, from each of its parts, its serial without leading
zeros, and reversed so any tail of it is found: 下4桁); the orderer's and each
recipient's family name, given name, both together, in kanji and in kana; their phone
numbers as digits (and reversed: the last digits); the mail address; each item's
商品番号, 商品管理番号 and SKU, and its name from each word and each kanji on (抹茶 finds
宇治抹茶ラテ). Tags are terms too, marked so that typed text never matches them: the tag
filter looks them up exactly.

Pure: standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from unyo.domain.order import ChannelOrder, Order, Person

TERM_MAX = 64
"""A term's length at most (longer ones are cut: a prefix is still found)."""
REVERSED = "\x01"
"""Marks a reversed term (order number, phone digits): found by the typed text reversed."""
TAG = "\x02"
"""Marks a tag term: looked up whole by the tag filter, never by typed text."""
NOTHING = "\x03"
"""A word no term starts with: what a search typed only of separators looks for."""
QUERY_MAX = 64

# ---- 異体字 -------------------------------------------------------------------------------
# Pairs "variant → form searched", written as two-character words.
#
# 1. The 旧字体 of the 常用漢字表 (平成22年内閣告示第2号, 2010: the old forms it gives
#    in brackets beside 364 characters), old → new. These are the forms of names in
#    family registers (澤, 邊, 櫻, 德, 齋, 廣, 眞, 國 …).
_JOYO_OLD = """
亞亜 惡悪 壓圧 圍囲 爲為 醫医 壹壱 稻稲 飮飲 隱隠 營営 榮栄 衞衛 驛駅 謁謁 圓円 緣縁 艷艶
鹽塩 奧奥 應応 橫横 歐欧 毆殴 黃黄 溫温 穩穏 假仮 價価 畫画 會会 囘回 壞壊 懷懐 繪絵 槪概
擴拡 殼殻 覺覚 學学 嶽岳 樂楽 渴渇 卷巻 陷陥 寬寛 關関 歡歓 觀観 巖巌 顏顔 歸帰 氣気 龜亀
僞偽 戲戯 犧犠 舊旧 據拠 擧挙 虛虚 峽峡 挾挟 敎教 狹狭 鄕郷 曉暁 勤勤 謹謹 區区 驅駆 勳勲
薰薫 徑径 莖茎 惠恵 揭掲 溪渓 經経 螢蛍 輕軽 繼継 鷄鶏 藝芸 擊撃 缺欠 硏研 縣県 儉倹 劍剣
險険 圈圏 檢検 權権 獻献 顯顕 驗験 嚴厳 廣広 效効 恆恒 鑛鉱 號号 國国 黑黒 穀穀 碎砕 濟済
齋斎 劑剤 歲歳 櫻桜 册冊 雜雑 參参 慘惨 棧桟 蠶蚕 贊賛 殘残 絲糸 齒歯 兒児 辭辞 濕湿
實実 舍舎 寫写 釋釈 壽寿 收収 從従 澁渋 獸獣 縱縦 祝祝 肅粛 處処 緖緒 敍叙 奬奨 將将 涉渉
燒焼 稱称 證証 乘乗 剩剰 壤壌 孃嬢 條条 淨浄 狀状 疊畳 讓譲 釀醸 觸触 囑嘱 寢寝 愼慎 晉晋
眞真 盡尽 圖図 粹粋 醉酔 穗穂 隨随 髓髄 數数 樞枢 瀨瀬 聲声 靜静 齊斉 攝摂 竊窃 專専 戰戦
淺浅 潛潜 纖繊 踐践 錢銭 禪禅 曾曽 雙双 壯壮 搜捜 插挿 巢巣 爭争 總総 聰聡 莊荘 裝装 騷騒
增増 藏蔵 臟臓 卽即 屬属 續続 墮堕 體体 對対 帶帯 滯滞 臺台 瀧滝 擇択 澤沢 單単 擔担 膽胆
團団 彈弾 斷断 癡痴 遲遅 晝昼 蟲虫 鑄鋳 廳庁 徵徴 聽聴 敕勅 鎭鎮 遞逓 鐵鉄 轉転 點点 傳伝
都都 黨党 盜盗 燈灯 當当 鬭闘 德徳 獨独 讀読 屆届 繩縄 貳弐 惱悩 腦脳 霸覇 廢廃 拜拝 賣売
麥麦 發発 髮髪 拔抜 晚晩 蠻蛮 祕秘 濱浜 甁瓶 拂払 佛仏 倂併 竝並 變変 邊辺 辨弁 瓣弁 辯弁
舖舗 步歩 穗穂 寶宝 襃褒 豐豊 沒没 飜翻 每毎 萬万 滿満 默黙 譯訳 藥薬 與与 豫予 餘余 譽誉
搖揺 樣様 謠謡 來来 賴頼 亂乱 覽覧 龍竜 兩両 獵猟 綠緑 淚涙 壘塁 勵励 禮礼 靈霊 齡齢 曆暦
歷歴 戀恋 爐炉 勞労 郞郎 樓楼 錄録 灣湾 卑卑 碑碑 繁繁 侮侮 懲懲 僧僧 層層 憎憎 贈贈 殺殺
"""
# 2. Variants in names and shop texts outside that list, most beyond JIS X 0208 (so they
#    come from Rakuten as their own code points): the 人名 variants shops meet every day.
#    齊 / 齋 / 斉 all read さい in 斉藤 / 斎藤 and a caller cannot say which: one form.
_NAMES = """
髙高 﨑崎 嵜崎 碕崎 邉辺 邊辺 濵浜 濱浜 𠮷吉 隆隆 斉斎 齊斎 齋斎 齍斎 嶋島 嶌島 冨富 舘館
峯峰 渕淵 淵淵 槇槙 栁柳 桒桑 凜凛 曻昇 晧皓 﨔欅 德徳 惪徳 恵恵 曺曹 祐祐 禎禎 福福 靖靖
琢琢 瀨瀬 樋樋 煕熙 熈熙 富富 蘒萩 𥔎崎 髪髪 𡈽土 塚塚 𣘺橋 槗橋 藪薮 籠篭 穎頴 鷗鴎
噓嘘 蟬蝉 驒騨 簞箪 剝剥 屛屏 禰祢 儘侭 埒埓 壺壷 彎弯 攪撹 檜桧 檮梼 櫟檪 濤涛 灌潅
箏筝 蘆芦 蠣蛎 蠅蝿 諫諌 賤賎 邇迩 靱靭 頸頚 鰺鯵 鶯鴬 俠侠 啞唖 囊嚢 塡填 搔掻 潑溌
瀆涜 焰焔 禱祷 繡繍 繫繋 萊莱 蔣蒋 蠟蝋 軀躯 醬醤 醱醗 頰頬 顚顛 鹼鹸 麴麹 𠮟叱
"""


def _pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in text.split():
        old, new = word[0], word[1]
        if len(word) != 2:
            raise ValueError(f"variant pair {word!r} is not two characters")
        out[unicodedata.normalize("NFKC", old)] = unicodedata.normalize("NFKC", new)
    return out


def _variants() -> dict[str, str]:
    table = _pairs(_JOYO_OLD) | _pairs(_NAMES)
    # Follow chains (齊 → 斉 → 斎) to their end, so folding is one lookup and idempotent.
    out = {}
    for old in table:
        new, seen = table[old], {old}
        while new in table and new not in seen:
            seen.add(new)
            new = table[new]
        if new != old:
            out[old] = new
    return out


VARIANTS: dict[str, str] = _variants()
"""異体字 → the form searched (after NFKC)."""

# ---- folding ----------------------------------------------------------------------------

_SMALL = "ァィゥェォッャュョヮヵヶ"
_LARGE = "アイウエオツヤユヨワカケ"
_SEPARATORS = " \t\r\n・･.,、。()（）「」[]【】-‐‑‒–—―−ｰ_/／'\"’”`~"
_FOLD: dict[int, str | int | None] = {}
for _c in range(0x3041, 0x3097):  # ぁ..ゖ → ァ..ヶ
    _FOLD[_c] = chr(_c + 0x60)
_FOLD[0x309D], _FOLD[0x309E] = "ヽ", "ヾ"
for _s, _l in zip(_SMALL, _LARGE, strict=True):
    _FOLD[ord(_s)] = _l
    _FOLD[ord(_s) - 0x60] = _l  # the small hiragana too (ぁ → ア)
_FOLD.update({ord(k): v for k, v in VARIANTS.items()})
_DROP = {ord(c): None for c in _SEPARATORS if c not in "ｰー"}
_DROP[0x3000] = None
_DROP.update({c: None for c in (*range(0x20), 0x7F)})  # control characters: never typed


def fold(text: str) -> str:
    """`text` in its searched form: NFKC, katakana, large kana, 異体字 folded, case-folded,
    separators dropped. `fold(fold(x)) == fold(x)`."""
    if text.isascii():  # order numbers, phones, SKUs: NFKC and the tables change nothing
        return text.lower().translate(_DROP)
    return _fold(text)


@lru_cache(maxsize=1 << 16)  # names, items and mail repeat from order to order
def _fold(text: str) -> str:
    while True:  # once, and again only when a step made something new to fold (Y¯)
        done = unicodedata.normalize("NFKC", unicodedata.normalize(
            "NFKC", text).translate(_FOLD).casefold()).translate(_FOLD).translate(_DROP)
        if done == text or (unicodedata.is_normalized("NFKC", done)
                            and done.translate(_FOLD) == done and done.casefold() == done):
            return done
        text = done


_DIGITS = re.compile(r"\d+")


def digits(text: str) -> str:
    """The ASCII digits of `text` (full-width ones included), in order: a phone number
    with or without hyphens, brackets or spaces."""
    return "".join(_DIGITS.findall(unicodedata.normalize("NFKC", text))).encode(
        "ascii", "ignore").decode()


# ---- an order's terms --------------------------------------------------------------------

def _cut(term: str) -> str:
    return term[:TERM_MAX]


def number_terms(number: str) -> set[str]:
    """An order number's terms: whole, from each part, the serial without its leading
    zeros, and reversed (any tail)."""
    n = fold(number)  # drops the hyphens: "123456-20261127-0000012345" → "123456…"
    parts = [p for p in unicodedata.normalize("NFKC", number).casefold().split("-") if p]
    out = {n, REVERSED + n[::-1]}
    for i in range(1, len(parts)):
        out.add(fold("".join(parts[i:])))
    if parts and parts[-1].isdigit() and parts[-1].lstrip("0"):
        out.add(parts[-1].lstrip("0"))
    return {_cut(t) for t in out if t and t != REVERSED}


@lru_cache(maxsize=1 << 14)
def _person_terms(p: Person) -> frozenset[str]:
    out = {fold(p.family_name), fold(p.first_name), fold(p.family_name + p.first_name),
           fold(p.family_name_kana), fold(p.first_name_kana),
           fold(p.family_name_kana + p.first_name_kana)}
    phone = digits(p.phone)
    if phone:
        out |= {phone, REVERSED + phone[::-1]}
    if p.email:
        out.add(fold(p.email))
    return frozenset(_cut(t) for t in out if t)


ITEM_NAME_TERMS = 12
"""At most so many terms per item name (each a suffix of the folded name)."""


def _script(ch: str) -> str:
    if "\u30a0" <= ch <= "\u30ff":
        return "kana"
    if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or ord(ch) >= 0x20000:
        return "kanji"
    if ch.isdigit():
        return "digit"
    if ch.isalpha():
        return "latin"
    return "other"


@lru_cache(maxsize=1 << 14)
def name_terms(name: str) -> frozenset[str]:
    """An item name's terms: the folded name from each word on, and from each kanji on
    (Japanese writes no spaces: 宇治抹茶ラテ is found by 抹茶, ラテ, 宇治抹茶 …)."""
    text = fold(name)
    starts: list[int] = []
    prev = ""
    for i, ch in enumerate(text):
        s = _script(ch)
        if s != prev or s == "kanji":
            starts.append(i)
        prev = s
    out: set[str] = set()
    for i in starts:
        if len(out) >= ITEM_NAME_TERMS:
            break
        out.add(_cut(text[i:]))
    return frozenset(out)


def tag_term(tag: str) -> str:
    """The term the tag filter looks up (never found by typed text: folding drops TAG)."""
    return _cut(TAG + fold(tag))


def tag_terms(tags: Iterable[str]) -> set[str]:
    return {tag_term(t) for t in tags if fold(t)}


@lru_cache(maxsize=1 << 14)
def _item_terms(item_number: str, manage_number: str, sku: str, name: str) -> frozenset[str]:
    codes = {fold(item_number), fold(manage_number), fold(sku)}
    return frozenset(_cut(t) for t in codes if t) | name_terms(name)


def channel_terms(c: ChannelOrder) -> set[str]:
    """Every term of the channel snapshot except the order number's."""
    out = set(_person_terms(c.buyer))
    for p in c.packages:
        out |= _person_terms(p.recipient)
        for i in p.items:
            out |= _item_terms(i.item_number, i.manage_number, i.sku, i.name)
    return out


def search_terms(order: Order) -> set[str]:
    """Every term that finds `order` (its number, people, phones, mail, items, tags)."""
    return (number_terms(order.number) | channel_terms(order.channel)
            | tag_terms(order.tags))


# ---- what was typed ----------------------------------------------------------------------

def query_words(text: str) -> list[str]:
    """The words of a search, each folded (empty ones dropped; at most five): an order
    must match every word. Buyer-typed text is only ever a bound value."""
    words = unicodedata.normalize("NFKC", text)[:QUERY_MAX].split()
    out = [w for w in (fold(w) for w in words) if w]
    if words and not out:
        return [NOTHING]  # "_" or "--" typed: nothing is found, not everything
    return out[:5]


def probes(word: str) -> list[str]:
    """Prefixes to look up for one folded word: itself, and reversed for the tail of an
    order number or phone number when it is all digits."""
    out = [word]
    if word.isascii() and word.isdigit():
        out.append(REVERSED + word[::-1])
    return out


def terms_matching(terms: Iterable[str], word: str) -> bool:
    """Whether any of `terms` is found by the folded `word` (the query, in Python: the
    store does the same with an index; tests compare the two)."""
    ps = probes(word)
    return any(t.startswith(p) for t in terms for p in ps)
