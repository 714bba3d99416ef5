#!/usr/bin/env bash
# Boots a multiboot image (and modules) on Bochs, a trusted software VMX
# implementation, through a GRUB ISO. The recipe is the one in DESIGN.md
# ("Facts verified"): headless rfb display, serial to a file, the built-in
# debugger told to continue. The guest ends Bochs through port 0x8900.
set -u
source "$(dirname "$0")/run-lib.sh"

mkdir -p "$work/iso/boot/grub"
cp "$image" "$work/iso/boot/image.elf"
{
    echo "set timeout=0"
    echo "set default=0"
    echo "menuentry turtles {"
    echo "  multiboot /boot/image.elf $cmdline"
    i=0
    for m in "${modules[@]}"; do
        file="${m%%=*}"; args=""
        [ "$file" != "$m" ] && args=" ${m#*=}"
        cp "$file" "$work/iso/boot/module$i"
        echo "  module /boot/module$i$args"
        i=$((i + 1))
    done
    echo "  boot"
    echo "}"
} > "$work/iso/boot/grub/grub.cfg"
if ! grub-mkrescue -o "$work/boot.iso" "$work/iso" > "$work/grub.log" 2>&1; then
    cat "$work/grub.log" >&2
    echo "bochs-run: grub-mkrescue failed" >&2
    exit 125
fi

cat > "$work/bochsrc" <<RC
megs: 256
cpu: model=corei7_haswell_4770, count=1, ips=50000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$work/boot.iso, status=inserted
boot: cdrom
display_library: rfb, options="timeout=0"
com1: enabled=1, mode=file, dev=$work/serial.txt
clock: sync=none, time0=1
sound: driver=dummy
speaker: enabled=0
log: $work/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
RC
echo c > "$work/dbg.rc"
# Bochs' VNC server binds the first free port of 5900-5949, but a bind
# that wins a race against another Bochs and then fails to listen leaves
# its socket unusable: it gives up before the guest starts ("RFB could
# not bind"). Only then is the run repeated, after a pause.
for attempt in 1 2 3; do
    : > "$work/serial.txt"
    (cd "$work" && timeout "$timeout_s" bochs -q -rc dbg.rc -f bochsrc) \
        > "$work/bochs.out" 2>&1 < /dev/null
    code=$?
    grep -q "RFB could not bind" "$work/bochs.log" 2>/dev/null || break
    sleep "$attempt"
done
tr -d '\r' < "$work/serial.txt"
status=$(guest_status "$work/serial.txt")
[ -n "$status" ] && exit "$status"
echo "bochs-run: the guest did not finish (bochs exit code $code); last lines of the log:" >&2
tail -n 15 "$work/bochs.log" "$work/bochs.out" >&2
exit 125
