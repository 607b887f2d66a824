from memmap_tui.cli import main

main()
