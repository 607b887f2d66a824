"""Every key, declared once: the bindings, the command palette and the help screen are made from it.

As in Posting, each binding has an id and a description; `group` orders the help screen and
`palette` says whether the command palette offers it (keys that need a panel's focus, like the
map's ↑↓, are not actions one picks from a list).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    keys: str              # Textual key names, comma separated
    action: str
    label: str             # the footer's short word
    description: str       # the palette's command and the help screen's line
    group: str             # "app" | "map" | "tree": who handles it
    show: bool = True      # in the footer
    display: str | None = None
    palette: bool = True
    priority: bool = False

    @property
    def shown_key(self) -> str:
        return self.display or self.keys.replace(",", " ")

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.label, show=self.show, key_display=self.display,
                       id=self.id, tooltip=self.description, priority=self.priority)


# Footer order: ? and q first, so an 80-column footer never cuts them off.
KEYS: tuple[Key, ...] = (
    Key("help", "question_mark", "help", "Help", "Show every key, the policies and the legend", "app",
        display="?"),
    Key("quit", "q", "quit", "Quit", "Quit (unexported toggles are lost: export first)", "app"),
    Key("toggle-no-dump", "n", "toggle_no_dump", "No-dump",
        "Toggle linux,no-dump on the selected /reserved-memory node", "app"),
    Key("next-policy", "p", "next_policy", "Policy", "Cycle the active policy", "app"),
    Key("jump", "slash", "jump", "Jump", "Jump to a node name, label, path or address…", "app", display="/"),
    Key("export", "e", "export", "Export", "Export a patched DTB / overlay / DTS patch…", "app"),
    Key("toggle-tree", "t", "toggle_tree", "Tree", "Show or hide the region tree", "app"),
    Key("undo", "u", "undo", "Undo", "Undo the last no-dump toggle", "app"),
    Key("redo", "ctrl+r", "redo", "Redo", "Redo a toggle", "app", display="^r"),
    Key("copy-range", "c", "copy_range", "Copy", "Copy the selected range as [mem 0x…-0x…]", "app", show=False),
    Key("overview", "o", "overview", "Overview", "Show the overview, totals per kind and all findings", "app",
        show=False),
    Key("filter-kind", "f", "filter_kind", "Filter", "Tree: show one kind of region (cycles)", "app",
        show=False),
    Key("sort", "s", "cycle_sort", "Sort", "Tree: sort by address, by size, or list the largest carveouts",
        "app", show=False),
    Key("zoom-in", "plus,equals_sign", "zoom_in", "Zoom+",
        "Zoom the band map in (more rows per band; holes stay one row)", "app", show=False, display="+"),
    Key("zoom-out", "minus", "zoom_out", "Zoom−", "Zoom the band map out (down to one row per band)", "app",
        show=False, display="-"),
    Key("write-speed", "w", "write_speed", "Speed",
        "Set the write speed capture times assume (or derive it from the dump and its capture time)…", "app",
        show=False),
    Key("focused-help", "f1", "focused_help", "Panel help", "What the focused panel does", "app", show=False),
    Key("map.prev", "up,k", "prev_band", "Prev band", "Band map: previous band", "map", show=False,
        display="↑ k", palette=False),
    Key("map.next", "down,j", "next_band", "Next band", "Band map: next band", "map", show=False,
        display="↓ j", palette=False),
    Key("map.first", "home", "first_band", "First band", "Band map: first band", "map", show=False,
        palette=False),
    Key("map.last", "end", "last_band", "Last band", "Band map: last band", "map", show=False, palette=False),
    Key("tree.select", "enter", "select_cursor", "Select", "Region tree: select the highlighted line", "tree",
        show=False, palette=False),
    Key("tree.expand", "space", "toggle_node", "Expand", "Region tree: expand or collapse a group", "tree",
        show=False, palette=False),
)

# What a mouse or Textual itself does: listed on the help screen, not bindings of ours.
OTHER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("click", "a band selects its region; a policy card makes that policy active", "mouse"),
    ("tab", "next panel", "app"),
    ("ctrl+p", "command palette: every action above, each policy, jump to / toggle any region", "app"),
)


def bindings(group: str) -> list[Binding]:
    return [k.binding() for k in KEYS if k.group == group]


def help_rows() -> list[tuple[str, str, str]]:
    return [(k.shown_key, k.description, k.group) for k in KEYS] + list(OTHER_KEYS)


def palette_keys() -> list[Key]:
    return [k for k in KEYS if k.palette]
