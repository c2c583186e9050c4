"""Name keys: the same name typed differently gets the same key; different names do not."""

import pandas as pd
import pytest

from crmlab.features.names import fold_name, name_key, name_keys


@pytest.mark.parametrize("a, b", [
    ("Zhang Wei", "Wei Zhang"),          # swapped order
    ("ZHAO  Lei", "Zhao Lei"),           # case, spacing
    (" Wang, Fang ", "Wang Fang"),       # punctuation, padding
    ("Wiśniewski Piotr", "Wisniewski Piotr"),  # accents
])
def test_name_key_ignores_order_case_and_spacing(a, b):
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize("a, b", [
    ("Kovalenko Anna", "Kovalenco Anna"),
    ("Petrov Sergei", "Petroff Sergey"),
    ("Zhang Xiaoming", "Chang Hsiao-ming"),
    ("Xu Jie", "Hsu Jie"),
    ("Müller Maria", "Mueller Maria"),
    ("Yuri Popov", "Iurii Popoff"),
])
def test_fold_name_joins_transliteration_variants(a, b):
    assert name_key(a) != name_key(b)
    assert fold_name(a) == fold_name(b)


@pytest.mark.parametrize("a, b", [("Wang Fang", "Wang Wei"), ("Li Na", "Liu Na"),
                                  ("Xue Min", "Xu Min"), ("Ivanova Anna", "Ivanova Olga")])
def test_different_names_keep_different_keys(a, b):
    assert fold_name(a) != fold_name(b)


def test_name_keys_letters_and_missing():
    keys = name_keys(pd.Series(["Xiao Ming Wang", "Wang Xiaoming", None, "---"], index=[5, 6, 7, 8]))
    assert keys.index.tolist() == [5, 6, 7, 8]
    assert keys.loc[5, "name_letters"] == keys.loc[6, "name_letters"]
    assert keys.loc[5, "name_key"] != keys.loc[6, "name_key"]
    assert keys.loc[7].isna().all() and keys.loc[8].isna().all()
