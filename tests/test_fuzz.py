"""The fuzz bench (bench/fuzz.py) in CI: a short campaign per format, and every kept finding
(tests/fuzz_regressions/) replayed as a whole process within 2 s CPU and 200 MiB.

A format whose findings lie in another branch's code is xfail with the owner named.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import fuzz  # noqa: E402
import measure  # noqa: E402

REGRESSIONS = Path(__file__).resolve().parent / "fuzz_regressions"
# Formats whose short campaign still finds something, and whose code it is.
OWNERS: dict[str, str] = {}   # every format's short campaign is clean
SHORT_COUNT = {"dts": 12, "kdump": 12, "flattened": 12}


def _fmt_params():
    for fmt in fuzz.FORMATS:
        marks = [pytest.mark.xfail(reason=f"owner {OWNERS[fmt]}", strict=False)] if fmt in OWNERS else []
        yield pytest.param(fmt, marks=marks, id=fmt)


@pytest.mark.parametrize("fmt", _fmt_params())
def test_short_campaign(fmt):
    r = fuzz.campaign(fmt, SHORT_COUNT.get(fmt, 40), seed=20261202, findings=None)
    assert (r["crash"], r["hang"], r["mem"]) == (0, 0, 0), r["examples"]
    # Not vacuous: some inputs get through the whole report (a DTS campaign once failed every
    # input at the same `ulimit` step and still counted as clean).
    assert r["accepted"] > 0, r["top_errors"]


def test_generators_are_reproducible():
    for fmt in fuzz.FORMATS:
        assert fuzz.generate(fmt, 3, 17) == fuzz.generate(fmt, 3, 17)


def test_mutation_changes_bytes():
    import random
    rng = random.Random(1)
    seed = bytes(range(256)) * 4
    assert sum(fuzz.mutate(rng, seed) != seed for _ in range(50)) >= 45


def _regressions():
    for d in sorted(p.parent for p in REGRESSIONS.glob("*/args.json")):
        record = json.loads((d / "args.json").read_text())
        marks = [pytest.mark.xfail(reason=f"owner {record['owner']}", strict=False)] if record.get("owner") else []
        yield pytest.param(d, marks=marks, id=d.name)


@pytest.mark.parametrize("case_dir", _regressions())
def test_fuzz_regression(case_dir, tmp_path):
    fmt, data = fuzz.finding_input(case_dir)
    path = tmp_path / ("input" + fuzz.SUFFIX[fmt])
    path.write_bytes(data)
    m = measure.run([sys.executable, "-m", "memmap_tui", *fuzz.args_for(fmt, str(path))],
                    timeout_s=20, mem_limit_bytes=1 << 30, cpu_limit_s=3)
    assert m.returncode in (0, 2), (m.returncode, m.stderr[-500:])
    assert m.cpu_s <= 2.0 and m.rss_mib <= 200, (m.cpu_s, m.rss_mib)


def test_a_fork_that_dies_between_inputs_does_not_drop_the_rest(tmp_path, monkeypatch):
    """The harness dying while it generates input 5 (not while the product runs): inputs 6-9
    still run, and 5 is counted as skipped, not as ok (a campaign once lost 172 inputs so)."""
    import os

    def gen(fmt, seed, index):
        if index == 5:
            os._exit(9)
        return b"00000000-0fffffff : System RAM\n"
    monkeypatch.setattr(fuzz, "generate", gen)
    results = fuzz.run_batch("iomem", 1, range(0, 10), tmp_path)
    assert sorted(i for i, _, _ in results) == list(range(10))
    assert [o for i, o, _ in results if i == 5] == ["skipped"]
    assert all(o == "accepted" for i, o, _ in results if i != 5)
