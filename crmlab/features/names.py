"""Name keys for record linkage: the same name typed differently gets the same key.

Names are personal data: these keys are computed inside crmlab for the comparison
only and never leave it (the linkage outputs carry IDs and agreement flags, no names).

Three keys per name, each insensitive to case, accents, punctuation and spacing:

``name_key``
    The name's words in alphabetical order: "ZHAO  Lei" and "Lei Zhao" agree.
``name_letters``
    Its letters in alphabetical order: also agrees across split or joined words
    ("Xiao Ming" / "Xiaoming") and two swapped letters ("Wnag").
``name_folded``
    ``name_key`` after folding transliteration variants to one spelling: Wade–Giles and
    pinyin initials ("Hsu" / "Xu", "Chang" / "Zhang"), Slavic endings ("Petroff" /
    "Petrov", "Kovalenco" / "Kovalenko", "Sergey" / "Sergei"), German umlauts written
    out ("Mueller" / "Müller") and doubled letters.

Examples
--------
>>> name_key(" ZHAO  Lei")
'lei zhao'
>>> name_key("Lei Zhao")
'lei zhao'
>>> fold_name("Chang Hsiao-ming") == fold_name("Zhang Xiaoming")
True
>>> fold_name("Kovalenco Sergey") == fold_name("Kovalenko Sergei")
True
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

#: Letters that Unicode decomposition does not reduce to ASCII.
_SPECIAL = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "đ": "d", "æ": "ae", "œ": "oe",
                          "ı": "i", "þ": "th"})

#: Whole-word Wade–Giles spellings whose pinyin differs beyond the initial.
_WADE_GILES = {"kuo": "guo", "teng": "deng", "yeh": "ye", "hung": "hong", "chung": "zhong",
               "tsai": "cai", "tseng": "zeng", "tsao": "cao", "sung": "song", "tung": "dong",
               "kung": "gong", "pai": "bai", "ting": "ding", "kao": "gao", "tang": "tang"}

#: (pattern, replacement) applied in order to one lower-case ASCII word.
_FOLDS = [
    (re.compile(r"^hs"), "x"),             # Wade–Giles hs = pinyin x
    (re.compile(r"ieh$"), "ie"),           # hsieh -> xie
    (re.compile(r"ih$"), "i"),             # chih -> zhi
    (re.compile(r"^(zh|ch|q)"), "j"),      # zh / ch / q / j: one class
    (re.compile(r"^(ts|tz|c)"), "z"),      # ts / tz / c / z: one class
    (re.compile(r"tsch"), "ch"),           # German transcription of Slavic č
    (re.compile(r"sch"), "sh"),
    (re.compile(r"kh"), "h"),
    (re.compile(r"([^xyjqln])ue"), r"\1u"),  # mueller -> muller (not xue, yue, lue)
    (re.compile(r"(?<=.)oe"), "o"),
    (re.compile(r"ae"), "a"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"y"), "i"),
    (re.compile(r"w"), "v"),
    (re.compile(r"ff$"), "v"),
    (re.compile(r"co$"), "ko"),
    (re.compile(r"(.)\1+"), r"\1"),        # doubled letters
    (re.compile(r"i[ij]$"), "i"),          # iurii / jurij -> iuri
]


def _plain_words(name) -> list[str]:
    """Lower-case ASCII words and numbers of ``name``; hyphens join, punctuation splits."""
    if name is None or (not isinstance(name, str) and pd.isna(name)):
        return []
    text = unicodedata.normalize("NFKD", str(name).lower().translate(_SPECIAL))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"['’\-]", "", text)
    return re.sub(r"[^a-z0-9]+", " ", text).split()


def fold_word(word: str) -> str:
    """One word with its transliteration variants folded to one spelling.

    Examples
    --------
    >>> [fold_word(w) for w in ["hsu", "xu", "petroff", "petrov", "iurii", "yuri"]]
    ['ksu', 'ksu', 'petrov', 'petrov', 'iuri', 'iuri']
    """
    word = _WADE_GILES.get(word, word)
    for pattern, replacement in _FOLDS:
        word = pattern.sub(replacement, word)
    return word


def name_key(name) -> str:
    """The name's plain words in alphabetical order ("" for a missing name)."""
    return " ".join(sorted(_plain_words(name)))


def fold_name(name) -> str:
    """:func:`name_key` with each word folded by :func:`fold_word`."""
    return " ".join(sorted(fold_word(word) for word in _plain_words(name)))


def name_keys(names: pd.Series) -> pd.DataFrame:
    """The comparison keys of each name, indexed like ``names``.

    Returns
    -------
    DataFrame
        ``name_key``, ``name_letters``, ``name_folded``, ``first_word``, ``last_word``
        (first and last word of ``name_folded``, for blocking); None where the name is
        missing or has no letters.

    Examples
    --------
    >>> name_keys(pd.Series(["Wang  Fang", "FANG Wang", None]))["name_key"].tolist()
    ['fang wang', 'fang wang', None]
    """
    unique = pd.Series(names.dropna().unique())
    words = unique.map(_plain_words)
    folded = words.map(lambda w: sorted(fold_word(x) for x in w))
    keys = pd.DataFrame({
        "name_key": words.map(lambda w: " ".join(sorted(w))),
        "name_letters": words.map(lambda w: "".join(sorted("".join(w)))),
        "name_folded": folded.map(" ".join),
        "first_word": folded.map(lambda w: w[0] if w else ""),
        "last_word": folded.map(lambda w: w[-1] if w else ""),
    }).set_axis(unique.to_numpy())
    keys = keys.where(keys != "", None)
    out = keys.reindex(names.to_numpy())
    out.index = names.index
    return out.astype(object).where(out.notna(), None)
