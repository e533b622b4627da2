"""``engine.started``: per-file work begun on the pool while the caller does other work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from isaprofile.engine import map_files, started


def _touch(path: str) -> str:
    Path(path).write_text("done")
    return Path(path).name


def _slow_touch(path: str) -> str:
    time.sleep(0.2)
    return _touch(path)


def _wait_for(paths: list[Path], seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if all(p.exists() for p in paths):
            return True
        time.sleep(0.02)
    return False


def test_on_the_pool_every_item_is_worked_on_before_its_result_is_asked_for(tmp_path: Path) -> None:
    paths = [tmp_path / f"item-{i:02d}" for i in range(12)]
    with started(_touch, [str(p) for p in paths], workers=2, chunksize=1) as results:
        assert _wait_for(paths)  # done by the workers while this process has not looked at one result
        assert list(results) == [p.name for p in paths]  # in item order
    assert list(map_files(_touch, [str(p) for p in paths], workers=2)) == [p.name for p in paths]


def test_serially_the_work_is_done_as_the_results_are_read(tmp_path: Path) -> None:
    paths = [tmp_path / f"item-{i}" for i in range(3)]
    with started(_touch, [str(p) for p in paths], workers=1) as results:
        assert not any(p.exists() for p in paths)
        assert list(results) == [p.name for p in paths]


def test_a_block_that_raises_cancels_the_items_not_begun(tmp_path: Path) -> None:
    paths = [tmp_path / f"item-{i:02d}" for i in range(40)]
    with pytest.raises(RuntimeError, match="stop"):
        with started(_slow_touch, [str(p) for p in paths], workers=2, chunksize=1) as results:
            next(iter(results))
            raise RuntimeError("stop")
    done = sum(p.exists() for p in paths)
    assert 1 <= done < len(paths)  # the pool was shut down with the queue cancelled, not run to its end


def test_a_block_left_without_reading_every_result_cancels_the_items_not_begun(tmp_path: Path) -> None:
    """A caller that no longer wants the results (a refused deposit's previews) does not wait for them."""
    paths = [tmp_path / f"item-{i:02d}" for i in range(40)]
    with started(_slow_touch, [str(p) for p in paths], workers=2, chunksize=1) as results:
        next(iter(results))
    done = sum(p.exists() for p in paths)
    assert 1 <= done < len(paths)
