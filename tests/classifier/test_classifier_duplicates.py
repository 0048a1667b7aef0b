from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from classifier.duplicates import find_similar, near_duplicate_groups

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)

CANDIDATES = [
    (1, "人民路与解放大道交叉口有个大坑，车辆经过很危险", "城关街道", NOW - timedelta(hours=3)),
    (2, "幸福小区停水一整天了，什么时候来水", "城关街道", NOW - timedelta(days=1)),
    (3, "公交车不按站停车，司机态度恶劣", "南湖街道", NOW - timedelta(days=2)),
    (4, "超市卖过期食品", "城关街道", NOW - timedelta(days=1)),
    (5, "人民路解放大道路口路面塌了个坑，很危险", "南湖街道", NOW - timedelta(days=6)),
]


def test_the_same_pothole_comes_first():
    hits = find_similar("人民路解放大道路口有一个大坑，太危险了", CANDIDATES, area="城关街道", now=NOW)
    ids = [i for i, _ in hits]
    assert ids[:2] == [1, 5] or ids[:2] == [5, 1]
    assert 2 not in ids and 3 not in ids and 4 not in ids
    assert all(0 < s <= 1 for _, s in hits)


def test_same_area_and_recent_days_weigh_in():
    text = "幸福小区停水了"
    same = [(1, text, "A", NOW), (2, text, "B", NOW), (3, text, "A", NOW - timedelta(days=6))]
    scores = dict(find_similar(text, same, area="A", now=NOW, window_days=7))
    assert scores[1] > scores[2] and scores[1] > scores[3]
    assert scores[1] == 1.0


def test_identical_text_scores_one_and_min_score_filters():
    hits = find_similar("超市卖过期食品", CANDIDATES, area="城关街道", now=NOW)
    assert hits[0][0] == 4 and hits[0][1] > 0.9
    assert find_similar("超市卖过期食品", CANDIDATES, min_score=0.99, area="城关街道", now=NOW + timedelta(days=5)) == []
    assert len(find_similar("人民路", CANDIDATES, top_k=1, min_score=0.0, now=NOW)) == 1


def test_candidates_as_dicts_objects_and_strings_dates():
    @dataclass
    class T:
        id: int
        content: str
        area: str
        created_at: datetime

    cands = [
        {"id": "a", "text": "井盖丢了很危险", "area": "X", "created_at": "2026-11-22T08:00:00"},
        T(7, "人民路井盖丢失，晚上很危险", "X", datetime(2026, 11, 21, 8)),
        (9, "井盖", None, None),
    ]
    hits = dict(find_similar("人民路的井盖丢了，很危险", cands, area="X", now=NOW))
    assert {"a", 7} <= set(hits)


def test_odd_inputs_return_empty_not_errors():
    for text in ("", None, "！！", "😀😀", "\x00\x01"):
        assert find_similar(text, CANDIDATES) == []
    assert find_similar("人民路大坑", []) == []
    assert find_similar("人民路大坑", [(1, "", None, None), (2, None, None, "not a date")]) == []
    assert isinstance(find_similar("坑" * 100_000, CANDIDATES), list)


def test_near_duplicate_groups():
    texts = ["A市幸福小区停水三天了请尽快处理", "A市幸福小区停水三天了，请尽快处理！", "公交车不按站停", ""]
    g = near_duplicate_groups(texts)
    assert g[0] == g[1] and g[2] != g[0] and g[3] not in (g[0], g[2])
