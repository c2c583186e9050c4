"""Plausible names for simulated doctors and accounts, and the ways people mistype them.

Doctors get names from several naming cultures (Chinese pinyin, Slavic / Eastern
European, Western European). Within each culture surnames and given names follow a
Zipf law, so common names recur: a city of a few hundred doctors has several
"Wang Fang", some of them in the same hospital. These namesakes are different people;
the duplicates planted by :mod:`crmlab.simulate_duplicates` are the same person under a
second ID, with the name typed differently (:func:`name_variant`).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> names = doctor_names(5, rng)
>>> len(names)
5
>>> name_variant("Zhang Wei", np.random.default_rng(1), kind="swap")
'Wei Zhang'
"""

from __future__ import annotations

import unicodedata

import numpy as np

#: Share of doctors per naming culture.
CULTURE_SHARES = {"chinese": 0.6, "slavic": 0.25, "western": 0.15}

#: Surnames and given names of each culture, most common first (Zipf weights follow rank).
CULTURES: dict[str, dict[str, list[str]]] = {
    "chinese": {
        "surnames": ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu",
                     "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Gao", "Lin",
                     "Luo", "Zheng", "Liang", "Xie", "Song", "Tang", "Han", "Feng", "Deng",
                     "Cao", "Peng", "Zeng", "Xiao", "Tian", "Dong", "Pan", "Yuan", "Cai",
                     "Jiang", "Ye", "Du"],
        "given": ["Wei", "Fang", "Min", "Jing", "Li", "Lei", "Yan", "Jun", "Hui", "Yong",
                  "Jie", "Tao", "Ming", "Chao", "Xiuying", "Xiaoming", "Na", "Qiang",
                  "Ping", "Gang", "Hua", "Ying", "Xin", "Yu", "Hong", "Bin", "Lin", "Hao",
                  "Xiaohong", "Jianguo", "Guiying", "Haiyan", "Dan", "Rui", "Zhiqiang",
                  "Xiaoyan", "Yun", "Kai", "Bo", "Shuang"],
    },
    "slavic": {
        "surnames": ["Ivanova", "Petrov", "Kovalenko", "Novak", "Smirnov", "Kowalski",
                     "Shevchenko", "Popescu", "Kuznetsova", "Horváth", "Bondarenko",
                     "Wiśniewski", "Popov", "Dvořák", "Sokolova", "Nowak", "Melnyk",
                     "Lebedev", "Kozlov", "Tkachenko", "Morozova", "Volkov", "Pavlenko",
                     "Zielińska", "Novikov", "Fedorova", "Kravchenko", "Mikhailov",
                     "Yakovleva", "Oleksiuk"],
        "given": ["Anna", "Elena", "Irina", "Olga", "Natalia", "Pavel", "Sergei",
                  "Dmitri", "Andrei", "Marek", "Tomas", "Katarina", "Bogdan", "Yuri",
                  "Aleksandr", "Mikhail", "Tatiana", "Svetlana", "Piotr", "Agnieszka",
                  "Oksana", "Vladimir", "Yevgeny", "Ludmila", "Nikolai"],
    },
    "western": {
        "surnames": ["Müller", "Smith", "García", "Martin", "Rossi", "Schmidt", "Bernard",
                     "Johnson", "Brown", "Fernández", "Schneider", "Dubois", "Bianchi",
                     "Fischer", "Moreau", "Wilson", "Weber", "López", "Meyer", "Romano"],
        "given": ["Maria", "John", "Peter", "Anna", "Thomas", "Laura", "Michael", "Sophie",
                  "David", "Julia", "Marco", "Claire", "Stefan", "Lucia", "James", "Eva",
                  "Andreas", "Sara", "Luca", "Hannah"],
    },
}

#: Transliteration variants a second clerk may use (pinyin vs Wade–Giles, Slavic endings,
#: diacritics written out or dropped).
TRANSLITERATIONS = {
    "Zhang": "Chang", "Zhou": "Chou", "Xu": "Hsu", "Zhao": "Chao", "Guo": "Kuo",
    "Jiang": "Chiang", "Xiao": "Hsiao", "Cai": "Tsai", "Zeng": "Tseng", "Deng": "Teng",
    "Ye": "Yeh", "Xie": "Hsieh", "Zheng": "Cheng", "Xin": "Hsin", "Xiaoming": "Hsiao-ming",
    "Xiaohong": "Hsiao-hung", "Zhiqiang": "Chih-chiang", "Jianguo": "Chien-kuo",
    "Qiang": "Chiang", "Jing": "Ching", "Jie": "Chieh", "Jun": "Chun",
    "Kovalenko": "Kovalenco", "Petrov": "Petroff", "Smirnov": "Smirnoff", "Popov": "Popoff",
    "Sergei": "Sergey", "Natalia": "Natalya", "Yuri": "Iurii", "Aleksandr": "Alexander",
    "Mikhail": "Mihail", "Dmitri": "Dmitriy", "Yevgeny": "Evgeniy", "Tatiana": "Tatyana",
    "Wiśniewski": "Wisniewski", "Dvořák": "Dvorak", "Horváth": "Horvath",
    "Zielińska": "Zielinska", "Shevchenko": "Schewtschenko", "Tkachenko": "Tkacenko",
    "Müller": "Mueller", "García": "Garcia", "Fernández": "Fernandez", "López": "Lopez",
    "Yakovleva": "Jakovleva", "Oleksiuk": "Oleksyuk", "Nikolai": "Nikolay",
}

#: How a copy's name differs from the original's, with their probabilities.
VARIANT_KINDS = {"same": 0.12, "swap": 0.18, "case": 0.12, "spacing": 0.1,
                 "transliteration": 0.16, "typo": 0.18, "drop": 0.14}

_KEYBOARD = {c: n for c, n in zip("abcdefghijklmnopqrstuvwxyz",
                                  "sqxswdfghukopbilwetyvbcutz")}


def _zipf_weights(n: int, exponent: float = 1.0) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def doctor_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` doctor names, "Surname Given", from the cultures of :data:`CULTURE_SHARES`.

    Examples
    --------
    >>> doctor_names(3, np.random.default_rng(7))
    [...]
    """
    cultures = list(CULTURE_SHARES)
    culture = rng.choice(len(cultures), size=n, p=list(CULTURE_SHARES.values()))
    names = np.empty(n, dtype=object)
    for k, name in enumerate(cultures):
        rows = np.flatnonzero(culture == k)
        surnames, given = CULTURES[name]["surnames"], CULTURES[name]["given"]
        s = rng.choice(len(surnames), size=len(rows), p=_zipf_weights(len(surnames)))
        g = rng.choice(len(given), size=len(rows), p=_zipf_weights(len(given), 0.8))
        names[rows] = [f"{surnames[a]} {given[b]}" for a, b in zip(s, g)]
    return names.tolist()


def account_names(accounts, rng: np.random.Generator) -> list[str]:
    """A name per account row, e.g. "City 004 Second People's Hospital".

    ``accounts`` needs ``account_type`` and ``city``.
    """
    ordinals = ["First", "Second", "Third", "Fourth", "Fifth", "Sixth"]
    hospital = ["{city} {ordinal} People's Hospital", "{city} Central Hospital",
                "{city} University Hospital", "{city} Hospital of Traditional Medicine",
                "{city} Children's Hospital", "{city} {ordinal} Municipal Hospital"]
    clinic = ["{surname} Family Clinic", "{city} Community Health Centre {number}",
              "{city} Medical Clinic {number}"]
    pharmacy = ["{city} Pharmacy No. {number}", "{surname} Pharmacy",
                "Healthway Pharmacy {city} {number}"]
    pools = {"hospital": hospital, "clinic": clinic, "pharmacy": pharmacy}
    surnames = CULTURES["chinese"]["surnames"] + CULTURES["western"]["surnames"]
    names, used = [], set()
    for kind, city in zip(accounts["account_type"], accounts["city"]):
        pool = pools.get(kind, clinic)
        for attempt in range(50):
            name = pool[rng.integers(len(pool))].format(
                city=city, ordinal=ordinals[rng.integers(len(ordinals))],
                surname=surnames[rng.integers(len(surnames))],
                number=int(rng.integers(1, 40 + attempt * 10)))
            if name not in used:
                break
        used.add(name)
        names.append(name)
    return names


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 3:
        return word + word[-1]
    i = int(rng.integers(1, len(word) - 1))
    if rng.random() < 0.5:  # swap two neighbouring letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    near = _KEYBOARD.get(word[i].lower(), "e")
    return word[:i] + near + word[i + 1:]


def name_variant(name: str, rng: np.random.Generator, kind: str | None = None) -> str:
    """``name`` as a second clerk might type it.

    Parameters
    ----------
    name : str
        "Surname Given" (or an account name).
    rng : numpy Generator
    kind : str, optional
        One of :data:`VARIANT_KINDS`; drawn with their probabilities if None.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> name_variant("Kovalenko Anna", rng, kind="transliteration")
    'Kovalenco Anna'
    >>> name_variant("Zhao Lei", rng, kind="case")
    '...'
    """
    if kind is None:
        kind = rng.choice(list(VARIANT_KINDS), p=list(VARIANT_KINDS.values()))
    words = name.split()
    if kind == "swap" and len(words) > 1:
        return " ".join(words[1:] + words[:1])
    if kind == "case":
        style = rng.integers(3)
        if style == 0:
            return " ".join([words[0].upper(), *words[1:]])
        return name.upper() if style == 1 else name.lower()
    if kind == "spacing":
        style = rng.integers(3)
        if style == 0:
            return "  ".join(words)
        if style == 1:
            return " " + name + " "
        return name.replace(" ", ", ", 1)
    if kind == "transliteration":
        changed = [TRANSLITERATIONS.get(w, w) for w in words]
        if changed == words:
            changed = [_strip_accents(w) for w in words]
        if changed != words:
            return " ".join(changed)
        kind = "typo"
    if kind in ("typo", "drop"):
        i = int(rng.integers(len(words)))
        word = words[i]
        if kind == "drop" and len(word) > 3:
            j = int(rng.integers(1, len(word)))
            words[i] = word[:j] + word[j + 1:]
        else:
            words[i] = _typo(word, rng)
        return " ".join(words)
    return name
