from qa.script import fold


def test_fold_maps_traditional_to_simplified_keeping_length():
    text = "範廷頌於1919年6月15日在越南寧平省出生，為什麼？"
    folded = fold(text)
    assert folded == "范廷颂于1919年6月15日在越南宁平省出生，为什么？"
    assert len(folded) == len(text)


def test_fold_leaves_simplified_text_alone():
    text = "2023年新增了多少个托位？新增托位124个。"
    assert fold(text) == text
