"""The identity memos the writers use for shared dicts of values (isaprofile._shared)."""

from __future__ import annotations

from isaprofile._shared import ByIdentity, FirstSeen, OneCopy


def test_first_seen_goes_by_identity_and_keeps_what_it_saw() -> None:
    first = FirstSeen()
    a, b = {"k": 1}, {"k": 1}  # equal, not the same record
    assert [first(x) for x in (a, b, a, b)] == [True, True, False, False]
    # temporaries, each of which would free its id for the next one: kept, so none is taken for another
    assert all(first({"n": 1}) for _ in range(100))


def test_by_identity_keys_by_object_and_key_and_is_emptied_when_full() -> None:
    memo: ByIdentity[str] = ByIdentity(limit=2)
    a, b = {"k": 1}, {"k": 1}
    assert memo.put(a, "scan", "scan") == "scan" and memo.get(a, "scan") == "scan"
    assert memo.get(a, "segmentation") is None and memo.get(b, "scan") is None
    memo.put(b, "b")
    memo.put(a, "a")  # the third: the memo was emptied first
    assert memo.get(a) == "a" and memo.get(a, "scan") is None and memo.get(b) is None


def test_one_copy_gives_the_first_equal_value_and_is_emptied_when_full() -> None:
    one: OneCopy[tuple[str, str]] = OneCopy(limit=2)
    first = ("(0008,1030) StudyDescription", "reviewed")
    again = tuple(["(0008,1030) StudyDescription", "reviewed"])  # equal, made apart
    assert again is not first and one(first) is first and one(again) is first
    other = ("(0008,103E) SeriesDescription", "reviewed")
    assert one(other) is other
    third = ("(0018,0010) ContrastBolusAgent", "product names")
    assert one(third) is third  # the third: emptied first, so the first is forgotten
    assert one(again) is again
