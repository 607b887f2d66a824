"""memmap-tui: physical memory map explorer for DT reserved memory and kdump vmcores."""

__version__ = "0.1.0"
