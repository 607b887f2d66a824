"""The real arm64 boot in the corpus: QEMU virt DTB + its /proc/iomem + console log.

Expected figures are computed here from the kernel's own printouts (iomem lines,
memblock debugfs, dmesg), independently of memmap_tui's loaders.
"""

from __future__ import annotations

import json
import re


from conftest import BOOT_IOMEM, CONSOLE_LOG, RSV_DTB, needs_corpus, run_cli

pytestmark = needs_corpus


def _report(*extra: str) -> dict:
    proc = run_cli("report", "--json", RSV_DTB, "--iomem", BOOT_IOMEM, "--dmesg", CONSOLE_LOG, *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _iomem_lines():
    for line in BOOT_IOMEM.read_text().splitlines():
        m = re.match(r"^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$", line)
        yield len(m.group(1)) // 2, int(m.group(2), 16), int(m.group(3), 16) + 1, m.group(4)


def _section(name: str) -> list[str]:
    text = CONSOLE_LOG.read_text()
    body = text.split(f"===== BEGIN {name} =====\n", 1)[1].split(f"===== END {name} =====", 1)[0]
    return body.splitlines()


def test_every_reserved_child_is_placed_dynamic_ones_from_dmesg():
    doc = _report()
    rmem = [r for r in doc["regions"] if r["id"].startswith("/reserved-memory/")]
    assert len(rmem) == 6
    for r in rmem:
        assert r["ranges"], r["id"]
        assert "unplaced" not in r["flags"]
    by_id = {r["id"]: r for r in doc["regions"]}
    # dmesg: "created DMA memory pool at 0x000000006f000000, size 16 MiB" / CMA at 0x7f800000, 8 MiB
    assert by_id["/reserved-memory/video-pool"]["ranges"] == [{"start": 0x6F000000, "end": 0x70000000}]
    assert by_id["/reserved-memory/video-pool"]["placement"] == "dmesg"
    assert by_id["/reserved-memory/dyn-cma-pool"]["ranges"] == [{"start": 0x7F800000, "end": 0x80000000}]
    assert by_id["crashkernel"]["ranges"] == [{"start": 0x76000000, "end": 0x7E000000}]


def test_today_kexec_load_is_system_ram_minus_crash_kernel():
    system_ram = sum(e - s for _, s, e, n in _iomem_lines() if n.startswith("System RAM"))
    crash = sum(e - s for _, s, e, n in _iomem_lines() if n == "Crash kernel")
    doc = _report("--loader", "kexec_load")
    assert doc["policies"]["today"]["dumped_bytes"] == system_ram - crash
    # neither proposal changes the kexec_load path
    for p in ("no-dump-v1", "exclude-reserved"):
        assert doc["policies"][p]["dumped_bytes"] == system_ram - crash
        assert doc["policies"][p]["savings_bytes"] == 0


def test_today_kexec_file_is_the_memblock_computation():
    # §2.2: for_each_mem_range() = memblock.memory minus NOMAP regions, minus crashk_res.
    memory = []
    for line in _section("memblock/memory"):
        m = re.search(r"0x([0-9a-f]+)\.\.0x([0-9a-f]+)", line)
        memory.append((int(m.group(1), 16), int(m.group(2), 16) + 1))
    # arm64 prints a NOMAP memblock region as a top-level "reserved" line
    nomap = {(s, e) for depth, s, e, n in _iomem_lines() if depth == 0 and n == "reserved"}
    mapped = [(s, e) for s, e in memory if (s, e) not in nomap]
    assert len(memory) - len(mapped) == 4  # firmware, dsp x2 (6.1 honours both tuples), video-pool
    crash = re.search(r"crashkernel reserved: 0x([0-9a-f]+) - 0x([0-9a-f]+)", CONSOLE_LOG.read_text())
    c_start, c_end = int(crash.group(1), 16), int(crash.group(2), 16)
    expected = sum(e - s for s, e in mapped) - (c_end - c_start)
    for kernel in ("7.2", "7.1"):
        doc = _report("--kernel", kernel)
        assert doc["policies"]["today"]["dumped_bytes"] == expected


def test_policies_on_the_real_boot():
    doc = _report()
    pol = doc["policies"]
    by_id = {r["id"]: r for r in doc["regions"]}
    gpu = by_id["/reserved-memory/gpu-mem@50000000"]
    assert "no-dump" in gpu["flags"]
    # v1: the tagged 32 MiB gpu carveout + the 64 KiB /memreserve/ (no overlapping entry: default no-dump)
    assert pol["no-dump-v1"]["savings_bytes"] == (32 << 20) + (64 << 10)
    assert gpu["dumped"] == {"today": 32 << 20, "no-dump-v1": 0, "exclude-reserved": 0}
    # CMA stays in every policy
    assert by_id["/reserved-memory/linux,cma@58000000"]["dumped"]["exclude-reserved"] == 64 << 20
    assert pol["exclude-reserved"]["savings_bytes"] == (32 << 20) + (64 << 10)
    # clearing the tag leaves only the memreserve page for v1
    doc2 = _report("--dump", "gpu-mem@50000000")
    assert doc2["policies"]["no-dump-v1"]["savings_bytes"] == 64 << 10
    assert doc2["policies"]["exclude-reserved"]["savings_bytes"] == (32 << 20) + (64 << 10)


def test_no_dump_on_reusable_is_ignored_and_said():
    doc = _report("--no-dump", "linux,cma@58000000")
    assert doc["policies"]["no-dump-v1"]["savings_bytes"] == (32 << 20) + (64 << 10)
    codes = {(f["code"], f["id"]) for f in doc["findings"]}
    assert ("no-dump-ignored-reusable", "/reserved-memory/linux,cma@58000000") in codes
    doc = _report("--no-dump", "firmware@4c000000")
    assert ("no-dump-redundant-no-map", "/reserved-memory/firmware@4c000000") in {
        (f["code"], f["id"]) for f in doc["findings"]}


def test_failed_no_map_carveout_like_run1_initrd_collision(tmp_path):
    """boot/README.md run 1: the no-map firmware carveout at 0x48000000 collided with QEMU's
    initrd, the kernel printed "failed to reserve memory" and the range stayed System RAM."""
    from conftest import CORPUS
    dts = (CORPUS / "dtb/qemu/virt-aarch64-1G-rsv.dts").read_text().replace("4c000000", "48000000")
    src = tmp_path / "run1.dts"
    src.write_text(dts)
    iomem = []
    for line in BOOT_IOMEM.read_text().splitlines():
        if line == "4c000000-4c3fffff : reserved":
            continue  # no NOMAP split at 0x4c000000 any more ...
        iomem.append(line.replace("40000000-4bffffff : System RAM", "40000000-4c3fffff : System RAM")
                     .replace("4c400000-5bffffff : System RAM", "4c400000-5bffffff : System RAM"))
    io = tmp_path / "iomem.txt"
    io.write_text("\n".join(iomem) + "\n")  # ... and 0x48000000 is ordinary RAM (initrd nested)
    for extra in ([], ["--dmesg", str(CONSOLE_LOG)]):
        proc = run_cli("report", "--json", src, "--iomem", io, *extra)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        fw = {r["id"]: r for r in doc["regions"]}["/reserved-memory/firmware@48000000"]
        assert "failed" in fw["flags"]
        assert fw["dumped"]["today"] == 4 << 20  # plain RAM: in the vmcore
        assert any(f["code"] == "reserve-failed" for f in doc["findings"])
        system_ram = sum(int(l.split("-")[1].split()[0], 16) + 1 - int(l.split("-")[0], 16)
                         for l in iomem if l.endswith(": System RAM") and not l.startswith(" "))
        assert doc["policies"]["today"]["dumped_bytes"] == system_ram - (128 << 20)


def test_kernel_model_follows_the_log():
    """The log says 6.1: multi-reg nodes are modelled the ≤7.1 way (every tuple reserved)."""
    doc = _report()
    assert doc["kernel"] == "6.1"
    dsp = {r["id"]: r for r in doc["regions"]}["/reserved-memory/dsp-mem@5c000000"]
    assert dsp["ranges"] == [{"start": 0x5C000000, "end": 0x5C100000}, {"start": 0x5D000000, "end": 0x5D100000}]
    assert _report("--kernel", "7.2")["kernel"] == "7.2"
    # without iomem the DT alone now gives the real boot's figure too
    proc = run_cli("report", "--json", RSV_DTB, "--dmesg", CONSOLE_LOG)
    assert json.loads(proc.stdout)["policies"]["today"]["dumped_bytes"] == 874 << 20


def test_iomem_alone_places_only_the_unambiguous_dynamic_region():
    proc = run_cli("report", "--json", RSV_DTB, "--iomem", BOOT_IOMEM)
    by_id = {r["id"]: r for r in json.loads(proc.stdout)["regions"]}
    video = by_id["/reserved-memory/video-pool"]  # the only free top-level 16 MiB `reserved`
    assert video["ranges"] == [{"start": 0x6F000000, "end": 0x70000000}] and video["placement"] == "iomem"
    cma = by_id["/reserved-memory/dyn-cma-pool"]  # hidden inside a larger nested `reserved` ...
    # ... so iomem cannot place it; the boot replay predicts it top-down (no alloc-ranges:
    # anywhere), which is where dmesg says the kernel put it: 0x7f800000
    assert cma["ranges"] == [{"start": 0x7F800000, "end": 0x80000000}] and cma["size"] == 8 << 20
    assert cma["placement"] == "replay" and "unplaced" not in cma["flags"]
    assert cma["state"] == "predicted" and "top-down" in cma["evidence"]


def test_replay_predicts_where_the_real_kernel_put_crashkernel_and_dynamic_pools():
    """Without any log, the replay on the DTB the guest booted (QEMU's /chosen with the initrd
    and `crashkernel=128M`) predicts the three boot-time placements the real 6.1 kernel made:
    video-pool 0x6f000000 (top of its alloc-range), dyn-cma-pool 0x7f800000 (top of RAM) and
    `Crash kernel` 0x76000000 (below the 16 MiB struct page array at 0x7e000000 and the
    /memreserve/ at 0x7f000000) — read from iomem and dmesg here, not from the app."""
    from conftest import CORPUS
    crash = [(s, e) for depth, s, e, n in _iomem_lines() if n == "Crash kernel"]
    log = CONSOLE_LOG.read_text()
    pools = {m.group(1): int(m.group(1), 16) for m in
             re.finditer(r"created \w+ memory pool at 0x([0-9a-f]+)", log)}
    for kernel in ("6.1", "7.2"):
        proc = run_cli("report", "--json", CORPUS / "dtb/qemu/virt-aarch64-1G-rsv.as-booted.dtb",
                       "--kernel", kernel)
        doc = json.loads(proc.stdout)
        by_id = {r["id"]: r for r in doc["regions"]}
        ck = doc["crashkernel"]
        assert ck["state"] == "predicted" and [(ck["result"]["start"], ck["result"]["end"])] == crash
        assert by_id["crashkernel"]["state"] == "predicted"
        for rid in ("/reserved-memory/video-pool", "/reserved-memory/dyn-cma-pool"):
            assert by_id[rid]["state"] == "predicted"
            assert by_id[rid]["ranges"][0]["start"] in pools.values()
        said = [f["message"] for f in doc["findings"] if f["code"] == "replay-assumptions"]
        assert said and "struct page array 16 MiB" in said[0] and "kernel image" in said[0]
    # with the real iomem the crash kernel is observed and the replay agrees with it
    doc = _report()
    assert doc["crashkernel"]["state"] == "observed"
    assert "matches the replay's prediction" in doc["crashkernel"]["evidence"]
    assert not [f for f in doc["findings"] if f["code"] in ("replay-conflict", "crashkernel-predicted-differs")]
    assert {r["state"] for r in doc["regions"]} == {"observed"}


def test_elf_bytes_adds_the_kernel_image_pt_load_and_keeps_dumped_bytes():
    """crash_prepare_elf64_headers(…, need_kernel_map=true): a PT_LOAD for _text…_end on top of
    the RAM PT_LOADs. `dumped_bytes` keeps meaning RAM only; `elf_bytes` is the whole-file
    estimate: + the image (arm64 _text = `Kernel code` start − 64 KiB), + one page of headers,
    + one page of notes."""
    lines = list(_iomem_lines())
    code = next(s for _, s, e, n in lines if n == "Kernel code")
    data_end = next(e for _, s, e, n in lines if n == "Kernel data")
    image = data_end - (code - (64 << 10))
    assert image == 0x2010000   # 0x40200000 (2 MiB aligned _text) … 0x42210000
    doc = _report()
    for p, res in doc["policies"].items():
        assert res["elf_bytes"] == res["dumped_bytes"] + image + 2 * 4096, p
        assert "estimate" in res["elf_bytes_how"]
    proc = run_cli("report", "--json", RSV_DTB)   # no iomem: the image extent is unknown
    assert json.loads(proc.stdout)["policies"]["today"]["elf_bytes"] is None


def test_run1_initrd_collision_is_predicted_from_the_dtb_alone(tmp_path):
    """boot/README.md run 1: firmware@48000000 (no-map) on QEMU's initrd at 0x48000000. The
    kernel printed "failed to reserve memory for node 'firmware@48000000'" and the range stayed
    System RAM. From the booted DTB alone (dtc decompiles it, the node is moved back to
    0x48000000) `check` now says so: arm64_memblock_init() reserved the initrd first, so
    early_init_dt_reserve_memory() refuses the no-map with -EBUSY and the 4 MiB stay dumped."""
    import subprocess
    from conftest import CORPUS
    dts = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts",
                          str(CORPUS / "dtb/qemu/virt-aarch64-1G-rsv.as-booted.dtb")],
                         capture_output=True, text=True, check=True).stdout
    src = tmp_path / "run1.dts"
    src.write_text(dts.replace("4c000000", "48000000"))
    proc = run_cli("check", "--json", src)
    findings = json.loads(proc.stdout)["results"][0]["findings"]
    ebusy = [f for f in findings if f["code"] == "no-map-ebusy"]
    assert ebusy and ebusy[0]["id"] == "/reserved-memory/firmware@48000000"
    assert "overlaps the initrd" in ebusy[0]["message"] and "stays in the vmcore" in ebusy[0]["message"]
    doc = json.loads(run_cli("report", "--json", src, "--kernel", "6.1").stdout)
    fw = {r["id"]: r for r in doc["regions"]}["/reserved-memory/firmware@48000000"]
    assert fw["state"] == "failed" and fw["dumped"]["today"] == 4 << 20
