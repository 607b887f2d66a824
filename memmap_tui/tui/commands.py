"""Command-palette provider: every action, plus per-region jump and toggle commands.

Like Posting's, it offers only what makes sense now: toggles only for regions that can carry
the property, undo/redo only when there is something to undo or redo.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from memmap_tui.core.policy import POLICIES


class MemmapCommands(Provider):
    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        state = app.state
        out: list[tuple[str, object, str]] = [
            ("Toggle linux,no-dump on the selected region", app.action_toggle_no_dump, "n"),
            ("Next policy", app.action_next_policy, "p"),
            ("Jump to a region or address…", app.action_jump, "/"),
            ("Export patched DTB / overlay / DTS patch…", app.action_export, "e"),
            ("Zoom in the band map", app.action_zoom_in, "+"),
            ("Zoom out the band map", app.action_zoom_out, "-"),
            ("Show help", app.action_help, "?"),
            ("Show overview and findings", partial(app.select, "overview"), ""),
        ]
        if state.undo_stack:
            out.append(("Undo last toggle", app.action_undo, "u"))
        if state.redo_stack:
            out.append(("Redo toggle", app.action_redo, "ctrl+r"))
        for p in POLICIES:
            if p != state.policy:
                out.append((f"Policy: {p}", partial(app.set_policy, p), ""))
        for r in state.mm.regions:
            out.append((f"Jump to {r.id}", partial(app.select, f"region:{r.id}"), ""))
            if state.can_toggle(r) is None:
                verb = "Clear" if state.mm.no_dump(r) else "Set"
                out.append((f"{verb} linux,no-dump on {r.id}", partial(app.toggle_region, r.id), ""))
        return out

    async def discover(self) -> Hits:
        for name, callback, key in self._commands()[:8]:
            yield DiscoveryHit(name, callback, help=f"key: {key}" if key else None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, key in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name,
                          help=f"key: {key}" if key else None)
