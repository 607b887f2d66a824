"""The kernel policies as data: one `Policy` record each, one ordered registry.

A policy is `today` plus a rule saying which reserved_mem[] entries and which
/memreserve/ entries the kernel additionally drops from the vmcore (domain.md §2.7):

  today             current kernels: RAM PT_LOADs = memblock.memory minus NOMAP minus crashk_res
  no-dump-v1        the v1 series: also drops reserved_mem[] entries tagged `linux,no-dump`
                    (not no-map, not reusable) and /memreserve/ entries (inheriting an
                    overlapping entry's flag)
  exclude-reserved  v2+: drops every reserved_mem[] entry except CMA, and /memreserve/
                    entries unless they overlap a CMA entry

Both proposals hook of_reserved_mem_kdump_exclude() into the paths `ArchRules` marks
`honours_proposals` (kexec_file on arm64, riscv, loongarch). Every view (report text,
JSON, TUI, export advice) loops over `POLICIES`; adding a policy is one record here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from memmap_tui.core.arch import ArchRules

if TYPE_CHECKING:
    from memmap_tui.core.model import MemoryMap, Region

# The one wording of the note every view shows next to the policies.
PROPOSAL_NOTE = ("linux,no-dump is the v1 proposal (rejected by the DT maintainers; vendor kernels only). "
                 "exclude-reserved is the v2+ series: no DT change needed. Neither is in mainline.")

EntryRule = Callable[["MemoryMap", "Region"], bool]
# Given the saved entries overlapping a /memreserve/ entry, in reserved_mem[] order.
MemreserveRule = Callable[["MemoryMap", Sequence["Region"]], bool]
KeptWhy = Callable[["MemoryMap", "Region"], "str | None"]


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    column: str            # short column heading (report table)
    column_narrow: str     # narrower heading (TUI region table)
    title: str             # who runs it
    summary: str           # one line: what it drops beyond today
    # The per-region rule: which saved reserved_mem[] entries it drops; None: nothing
    # beyond `today` (then the memreserve rule is unused too).
    drops_entry: EntryRule | None = None
    drops_memreserve: MemreserveRule | None = None
    why_excluded: str = "excluded"
    why_memreserve_excluded: str = "excluded by default"
    # A policy-specific reason an entry it could drop stays (checked before "no entry").
    why_kept: KeptWhy | None = None
    # The DT property whose toggle drives this policy (the TUI's `n`, the export).
    toggled_by: str | None = None

    def changes(self, rules: ArchRules, loader: str) -> bool:
        """Whether this policy differs from `today` on that arch's loader path."""
        return self.drops_entry is not None and rules.dump_path(loader).honours_proposals


def _v1_drops_entry(mm: MemoryMap, r: Region) -> bool:
    # fdt_init_reserved_mem_node() (v1): no_dump only when !nomap && !reusable
    return mm.no_dump(r) and not r.no_map and not r.reusable


def _v1_drops_memreserve(mm: MemoryMap, overlapping: Sequence[Region]) -> bool:
    # fdt_reserved_mem_save_memreserve() (v1 06): no_dump defaults to true, but an
    # overlapping saved entry's flag is inherited (first overlap wins).
    return mm.no_dump(overlapping[0]) if overlapping else True


def _v1_why_kept(mm: MemoryMap, r: Region) -> str | None:
    return "reusable: linux,no-dump ignored" if r.saved and r.reusable else None


def _v2_drops_entry(mm: MemoryMap, r: Region) -> bool:
    # every entry is !dumpable except where rmem_cma_setup() set dumpable (v2+)
    return not r.cma and not r.no_map


def _v2_drops_memreserve(mm: MemoryMap, overlapping: Sequence[Region]) -> bool:
    # fdt_reserved_mem_add_memreserve() (v4 06/10): one overlapping dumpable (CMA)
    # entry keeps the whole memreserve entry.
    return not any(e.cma for e in overlapping)


def _v2_why_kept(mm: MemoryMap, r: Region) -> str | None:
    return "CMA entry: rmem_cma_setup() marks it dumpable" if r.cma else None


class PolicyRegistry:
    """Ordered policies, iterated by every view; `POLICIES["id"]` looks one up."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self._policies: list[Policy] = list(policies)

    def __iter__(self) -> Iterator[Policy]:
        return iter(tuple(self._policies))

    def __len__(self) -> int:
        return len(self._policies)

    def __contains__(self, policy_id: object) -> bool:
        return any(p.id == policy_id for p in self._policies)

    def __getitem__(self, policy_id: str) -> Policy:
        for p in self._policies:
            if p.id == policy_id:
                return p
        raise KeyError(policy_id)

    @property
    def ids(self) -> "PolicyIds":
        return PolicyIds(self)

    @property
    def toggled(self) -> Policy:
        """The policy the linux,no-dump toggle drives."""
        return next(p for p in self._policies if p.toggled_by)

    def register(self, policy: Policy) -> None:
        if policy.id in self:
            raise ValueError(f"policy {policy.id!r} already registered")
        self._policies.append(policy)

    def unregister(self, policy_id: str) -> None:
        self._policies.remove(self[policy_id])


class PolicyIds(Sequence[str]):
    """A live, ordered view of the registry's ids (the old `core.policy.POLICIES`)."""

    def __init__(self, registry: PolicyRegistry) -> None:
        self._registry = registry

    def _ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self._registry)

    def __getitem__(self, i):  # type: ignore[override]
        return self._ids()[i]

    def __len__(self) -> int:
        return len(self._registry)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids())

    def __repr__(self) -> str:
        return repr(self._ids())


TODAY = Policy(
    id="today", column="today", column_narrow="today",
    title="current kernels",
    summary="what current kernels put in a vmcore: RAM minus no-map minus the crash kernel",
)

POLICIES = PolicyRegistry([
    TODAY,
    Policy(
        id="no-dump-v1", column="v1", column_narrow="v1",
        title="kernels carrying the v1 series",
        summary="also drops nodes tagged linux,no-dump and /memreserve/",
        drops_entry=_v1_drops_entry, drops_memreserve=_v1_drops_memreserve,
        why_excluded="linux,no-dump set", why_kept=_v1_why_kept, toggled_by="linux,no-dump",
    ),
    Policy(
        id="exclude-reserved", column="excl-rsv", column_narrow="excl",
        title="the v2+ series",
        summary="drops every reserved region except CMA — no DT change needed",
        drops_entry=_v2_drops_entry, drops_memreserve=_v2_drops_memreserve,
        why_excluded="excluded by default", why_kept=_v2_why_kept,
    ),
])
