"""Command-palette provider, generated from the key table, plus per-policy and per-region commands.

Like Posting's, it offers only what makes sense now: undo/redo only when there is something to
undo or redo, toggles only for regions that can carry the property.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from memmap_tui.core.naming import display_name
from memmap_tui.core.policies import POLICIES
from memmap_tui.tui import selection as sel
from memmap_tui.tui.keys import palette_keys


class MemmapCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        state = app.state
        out: list[tuple[str, Callable[[], object], str]] = []
        for key in palette_keys():
            if key.id == "undo" and not state.undo_stack or key.id == "redo" and not state.redo_stack:
                continue
            out.append((key.description, partial(app.run_action, key.action), key.shown_key))
        for p in POLICIES:
            if p.id != state.policy:
                out.append((f"Policy: {p.id} — {p.title}", partial(app.set_policy, p.id), ""))
        for r in state.mm.regions:
            name = display_name(r)
            out.append((f"Jump to {name} ({r.id})" if name != r.id else f"Jump to {r.id}",
                        partial(app.select, sel.region(r.id)), ""))
            if state.can_toggle(r) is None:
                verb = "Clear" if state.mm.no_dump(r) else "Set"
                out.append((f"{verb} linux,no-dump on {r.id}", partial(app.toggle_region, r.id), ""))
        return out

    async def discover(self) -> Hits:
        for name, callback, key in self._commands():
            if key:   # every keyed action; regions and policies are found by typing
                yield DiscoveryHit(name, callback, help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, key in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name,
                          help=f"key: {key}" if key else None)
