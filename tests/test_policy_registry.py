"""Policies are data: a fourth policy registered at run time shows up in every report view,
and the policy ids are written only in the registry (issue 8)."""

from __future__ import annotations

import io
import json
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

from memmap_tui.cli import demo_paths, main
from memmap_tui.core.arch import ARCH_RULES
from memmap_tui.core.policies import POLICIES, Policy
from memmap_tui.core.policy import POLICIES as POLICY_IDS
from memmap_tui.core.policy import evaluate
from memmap_tui.inputs import Options, load
from memmap_tui.report.json_doc import build_report
from memmap_tui.report.text import render_report

REPO = Path(__file__).resolve().parent.parent

# Drops every saved entry and every /memreserve/ entry, CMA included.
DROP_ALL = Policy(
    id="drop-all-test", column="all-test", column_narrow="all",
    title="a throw-away test policy", summary="drops every reserved_mem[] entry",
    drops_entry=lambda mm, r: not r.no_map,
    drops_memreserve=lambda mm, overlapping: True,
    why_excluded="dropped by the test policy",
)


@contextmanager
def registered(policy: Policy):
    POLICIES.register(policy)
    try:
        yield policy
    finally:
        POLICIES.unregister(policy.id)
    assert [p.id for p in POLICIES] == ["today", "no-dump-v1", "exclude-reserved"]


@pytest.fixture
def fourth_policy():
    with registered(DROP_ALL) as policy:
        yield policy


def _demo():
    paths = demo_paths()
    return load(Options(dtb=paths["dtb"], iomem=paths["iomem"], dmesg=paths["dmesg"]))


def test_registry_order_and_the_old_id_view():
    assert list(POLICY_IDS) == [p.id for p in POLICIES] == ["today", "no-dump-v1", "exclude-reserved"]
    assert POLICY_IDS.index("exclude-reserved") == 2 and "today" in POLICY_IDS
    assert POLICIES.toggled.id == "no-dump-v1" and POLICIES.toggled.toggled_by == "linux,no-dump"
    # only the proposals' hook path changes anything beyond today
    changes = {(a, l) for a, rules in ARCH_RULES.items() for l in rules.loaders
               if POLICIES["exclude-reserved"].changes(rules, l)}
    assert changes == {("arm64", "kexec_file"), ("riscv", "kexec_file"), ("loongarch", "kexec_file")}
    assert not any(POLICIES["today"].changes(r, l) for r in ARCH_RULES.values() for l in r.loaders)


def test_fourth_policy_in_text_and_json(capsys):
    before = {k: (v.dumped_bytes, v.savings_bytes, v.region_dumped) for k, v in evaluate(_demo().mm).items()}
    with registered(DROP_ALL):
        _fourth_policy_renders(before, capsys)


def _fourth_policy_renders(before, capsys):
    loaded = _demo()
    results = evaluate(loaded.mm)
    assert list(results) == ["today", "no-dump-v1", "exclude-reserved", "drop-all-test"]
    # the three real policies are untouched by a fourth
    assert {k: (v.dumped_bytes, v.savings_bytes, v.region_dumped) for k, v in results.items()
            if k != "drop-all-test"} == before
    extra = results["drop-all-test"]
    assert extra.savings_bytes > results["exclude-reserved"].savings_bytes > 0   # CMA is dropped too

    out = io.StringIO()
    render_report(loaded.mm, Console(file=out, width=240), write_speed_mbps=100.0, results=results)
    text = out.getvalue()
    assert "all-test" in text and "drop-all-test" in text

    doc = build_report(loaded.mm, write_speed_mbps=100.0, results=results)
    assert doc["policies"]["drop-all-test"]["savings_bytes"] == extra.savings_bytes
    assert all(set(r["dumped"]) == set(results) for r in doc["regions"])

    # the real command line, both renderings
    paths = demo_paths()
    main(["report", "--json", paths["dtb"]])
    assert "drop-all-test" in json.loads(capsys.readouterr().out)["policies"]
    main(["report", paths["dtb"]])
    assert "drop-all-test" in capsys.readouterr().out


def test_why_lines_come_from_the_records(fourth_policy):
    loaded = _demo()
    results = evaluate(loaded.mm)
    dropped = [r for r in loaded.mm.regions if r.id in results["drop-all-test"].excluded_ids]
    assert dropped
    for r in dropped:
        why = results.why(r)
        assert list(why) == list(results)
        if r.kind != "memreserve":
            assert why["drop-all-test"] == "dropped by the test policy"


# Files whose policy loops must read the registry. TUI (tui/), export/, sources/dtb.py,
# core/lint.py and core/dump.py belong to other branches and still name policies.
REGISTRY_ONLY = ["memmap_tui/core/policy.py", "memmap_tui/core/model.py", "memmap_tui/core/arch.py",
                 "memmap_tui/core/crashkernel.py", "memmap_tui/inputs.py", "memmap_tui/cli.py",
                 "memmap_tui/report/text.py", "memmap_tui/report/json_doc.py"]


def test_policy_ids_are_written_only_in_the_registry():
    pattern = re.compile(r"exclude-reserved|no-dump-v1")
    for rel in REGISTRY_ONLY:
        assert not pattern.search((REPO / rel).read_text()), rel
    assert pattern.search((REPO / "memmap_tui/core/policies.py").read_text())


def test_fourth_policy_in_the_tui():
    """The TUI half: a card, a details row, the help table and `p` cycling reach the fourth
    policy; no view names a policy of its own."""
    import asyncio
    import html

    from memmap_tui.tui import selection as sel
    from memmap_tui.tui.app import MemmapApp
    from memmap_tui.tui.widgets import PolicyCard

    def screen(app) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")

    async def drive() -> None:
        with registered(DROP_ALL):
            app = MemmapApp(_demo())
            async with app.run_test(size=(200, 50)) as pilot:
                await pilot.pause()
                cards = list(app.screen.query(PolicyCard))
                assert len(cards) == 4
                assert "drop-all-test" in "".join(str(c.render()) for c in cards)
                app.select(sel.region("/reserved-memory/camera@a4000000"))
                await pilot.pause()
                assert "dropped by the test policy" in screen(app)
                for _ in range(3):
                    await pilot.press("p")
                await pilot.pause()
                assert app.state.policy == "drop-all-test"
                await pilot.press("p")
                await pilot.pause()
                assert app.state.policy == "today"
                await pilot.press("question_mark")
                await pilot.pause()
                assert "a throw-away test policy" in screen(app)

    asyncio.run(drive())
