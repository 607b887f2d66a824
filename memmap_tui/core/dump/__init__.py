"""What a vmcore holds, per physical range, and whether it follows a kernel policy.

Pure: the `sources.vmcore` readers build a `DumpLayout` (headers, bitmaps and a
descriptor reader); this package only counts. Vocabulary (domain.md §4):

  covered   bytes the dump describes: ELF PT_LOAD [p_paddr, p_paddr+p_memsz),
            kdump 1st bitmap ("valid" pfns). Overlapping PT_LOADs (the arm64
            kernel-image PT_LOAD duplicates RAM) are counted once.
  present   bytes whose contents are in the file: ELF p_filesz, kdump 2nd bitmap.
  excluded  covered but not present: pages makedumpfile filtered out (-d).
  on disk   file bytes spent on the range: ELF p_filesz bytes (every PT_LOAD, so a
            duplicated kernel image costs twice, as it does in the file); kdump
            compressed sizes from the page descriptors + 24 B per descriptor, the
            shared zero page counted once for the whole file (not per range).

kdump blocks are `block_size` bytes (QEMU writes 64 KiB blocks for a 4 KiB-page
guest); a block belongs, for on-disk bytes, to the range holding its first byte, so
any partition of the address space sums exactly to the file-level totals.

Modules: `page_index` (RangeStats, the PageIndex protocol), `elf_index` (PT_LOADs),
`bitmap_index` (kdump bitmaps), `layout` (DumpLayout), `accounting` (account_dump),
`verdict` (check_policy), `projection` (per-policy projection from a dump or page counts).
"""

from memmap_tui.core.dump.accounting import AccountRow, DumpAccount, account_dump
from memmap_tui.core.dump.bitmap_index import PAGE_DESC_BYTES, Bitmap, BitmapIndex, DescStats
from memmap_tui.core.dump.elf_index import Segment, SegmentIndex
from memmap_tui.core.dump.layout import DumpLayout
from memmap_tui.core.dump.page_index import PageIndex, RangeStats
from memmap_tui.core.dump.projection import Projection, project, project_policy
from memmap_tui.core.dump.verdict import NamedRange, PolicyDiff, Verdict, check_policy

__all__ = ["AccountRow", "DumpAccount", "account_dump", "PAGE_DESC_BYTES", "Bitmap", "BitmapIndex",
           "DescStats", "Segment", "SegmentIndex", "DumpLayout", "PageIndex", "RangeStats",
           "NamedRange", "PolicyDiff", "Verdict", "check_policy", "Projection", "project", "project_policy"]
