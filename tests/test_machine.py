"""The machine facts the store policy follows: the last-level cache read from a sysfs tree."""
import os

import pytest

from fastact import _constants, _machine

MiB = 1 << 20


def _cache(root, cpu, index, level, kind, size, shared):
    path = os.path.join(root, f"cpu{cpu}", "cache", f"index{index}")
    os.makedirs(path)
    for name, value in (("level", level), ("type", kind), ("size", size),
                        ("shared_cpu_list", shared)):
        with open(os.path.join(path, name), "w") as f:
            f.write(f"{value}\n")


def _tree(root, l3_size="32768K", l3_shared="0-1"):
    _cache(root, 0, 0, 1, "Data", "32K", "0")
    _cache(root, 0, 1, 1, "Instruction", "32K", "0")
    _cache(root, 0, 2, 2, "Unified", "1024K", "0")
    _cache(root, 0, 3, 3, "Unified", l3_size, l3_shared)
    return str(root)


@pytest.mark.parametrize("text, expected", [("32768K", 32 * MiB), ("2M", 2 * MiB),
                                             ("1G", 1 << 30), ("512", 512), (" 48K\n", 48 << 10)])
def test_parse_size(text, expected):
    assert _machine.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "K", "12Q", "x1K"])
def test_parse_size_rejects_what_is_no_size(text):
    with pytest.raises(ValueError):
        _machine.parse_size(text)


def test_parse_cpu_list():
    assert _machine.parse_cpu_list("0-3,8,10-11\n") == {0, 1, 2, 3, 8, 10, 11}


def test_the_last_level_is_the_highest_data_or_unified_level(tmp_path):
    root = _tree(tmp_path)
    assert _machine.last_level_cache_bytes(root, {0, 1}) == 32 * MiB


def test_cpus_past_one_cache_instance_count_each_instance(tmp_path):
    root = _tree(tmp_path, l3_shared="0-3")
    assert _machine.last_level_cache_bytes(root, {0, 1}) == 32 * MiB
    assert _machine.last_level_cache_bytes(root, set(range(8))) == 64 * MiB
    assert _machine.last_level_cache_bytes(root, set(range(9))) == 96 * MiB


def test_no_cache_description_is_none(tmp_path):
    assert _machine.last_level_cache_bytes(str(tmp_path), {0}) is None
    _cache(tmp_path, 0, 0, 1, "Instruction", "32K", "0")
    _cache(tmp_path, 0, 1, 2, "Unified", "garbage", "0")
    assert _machine.last_level_cache_bytes(str(tmp_path), {0}) is None


def test_stream_threshold_is_the_cache_capped_at_the_constant():
    cap = _constants.STREAM_MIN_BYTES
    assert _machine.stream_min_bytes(32 * MiB) == min(32 * MiB, cap)
    assert _machine.stream_min_bytes(cap * 4) == cap
    assert _machine.stream_min_bytes(None) == cap
    assert _machine.stream_min_bytes(1000) == 960  # whole 64-byte lines
    assert _machine.stream_min_bytes(10) == 64


def test_this_machines_threshold_is_within_its_bounds():
    value = _machine.stream_min_bytes()
    assert 64 <= value <= _constants.STREAM_MIN_BYTES and value % 64 == 0
