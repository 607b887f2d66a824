#!/bin/sh
# memmap-tui collect for boards with only a POSIX shell (busybox is enough).
# Writes the same bundle as `memmap-tui collect`: the files below under their own paths,
# the kernel log as dmesg.txt and manifest.txt. Open it with `memmap-tui OUT.tar.gz`.
# Usage: sh collect.sh [-r ROOT] OUT.tar.gz      (run as root for debugfs and real iomem addresses)
set -u
ROOT=/
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
        -r) ROOT=$2; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) OUT=$1; shift ;;
    esac
done
[ -n "$OUT" ] || { echo "usage: $0 [-r ROOT] OUT.tar.gz" >&2; exit 2; }
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
LOST=""
CAP=67108864

grab() {   # grab PATH-UNDER-ROOT WHAT-IS-LOST-WITHOUT-IT
    if head -c "$CAP" "$ROOT/$1" > "$TMP/.part" 2>/dev/null; then
        mkdir -p "$TMP/$(dirname "$1")" && mv "$TMP/.part" "$TMP/$1"
    else
        rm -f "$TMP/.part"
        if [ -e "$ROOT/$1" ]; then why="not readable"; else why="missing"; fi
        LOST="${LOST}unreadable=/$1: $why; lost: $2
"
    fi
}

kmsg_to_dmesg() {   # /dev/kmsg records -> "[    1.234567] message" (continuation lines dropped)
    awk '!/^ / && length($0) > 0 {
        i = index($0, ";"); if (i == 0) next
        n = split(substr($0, 1, i - 1), f, ","); if (n < 3 || f[3] !~ /^[0-9]+$/) next
        u = f[3] + 0
        printf "[%5d.%06d] %s\n", int(u / 1000000), u % 1000000, substr($0, i + 1)
    }'
}

@GRABS@

if [ "$(cd "$ROOT" && pwd -P)" = / ]; then
    arch=$(uname -m)
    page=$(getconf PAGESIZE 2>/dev/null || echo unknown)
    if dmesg > "$TMP/dmesg.txt" 2>/dev/null && [ -s "$TMP/dmesg.txt" ]; then klog=dmesg; else klog=; fi
else
    arch=$(cat "$ROOT/proc/sys/kernel/arch" 2>/dev/null)
    page=unknown
    if [ -r "$ROOT/dev/kmsg" ] && kmsg_to_dmesg < "$ROOT/dev/kmsg" > "$TMP/dmesg.txt"; then klog=/dev/kmsg; else klog=; fi
fi
[ -n "$klog" ] || { rm -f "$TMP/dmesg.txt"; LOST="${LOST}unreadable=/dev/kmsg: not readable; lost: placements and failures from the kernel log
"; }
release=$(cat "$ROOT/proc/sys/kernel/osrelease" 2>/dev/null)
{
    echo "format=memmap-tui-bundle/1"
    echo "kernel_release=${release:-unknown}"
    echo "arch=${arch:-unknown}"
    echo "page_size=$page"
    echo "time=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "collector=sh"
    echo "euid=$(id -u)"
    [ -z "$klog" ] || echo "kernel_log=$klog"
    printf '%s' "$LOST"
} > "$TMP/manifest.txt"
tar -czf "$OUT.part" -C "$TMP" . && mv "$OUT.part" "$OUT" || { rm -f "$OUT.part"; echo "collect.sh: cannot write $OUT" >&2; exit 1; }
echo "wrote $OUT"
