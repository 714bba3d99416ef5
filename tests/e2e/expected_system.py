"""Expected lines of the system-level test guests (tests/guests/paging,
usermode, timer, exceptions, smc, sensitive), written from the SDM's
rules and the runtime's descriptor tables, never copied from a run.

DETAIL lines hold architectural values on which a backend is known to
depart from the SDM (see DEVIATIONS in test_guests.py)."""

# The runtime's selectors (guests/rt/rt.h) and their descriptors
# (guests/rt/desc.c), with the accessed bit set as the sensitive guest does.
KCODE, KDATA, UCODE32, UDATA, UCODE, TSS = 0x08, 0x10, 0x18, 0x20, 0x28, 0x30
GDT = {
    KCODE: 0x00AF9B000000FFFF,
    KDATA: 0x00CF93000000FFFF,
    UCODE32: 0x00CFFB000000FFFF,
    UDATA: 0x00CFF3000000FFFF,
    UCODE: 0x00AFFB000000FFFF,
    # A busy 64-bit TSS, limit 0x67; its base bits are masked out of LAR.
    TSS: 0x00008B0000000067,
    TSS + 8: 0,  # the upper half: base 63:32, zero below 4 GiB
}
GDT_LIMIT = 8 * 8 - 1
IDT_LIMIT = 256 * 16 - 1

# Page-fault error code bits (SDM Vol. 3A 4.7).
PF_P, PF_W, PF_U, PF_RSVD, PF_I = 1, 2, 4, 8, 16
VEC_DE, VEC_BP, VEC_UD, VEC_DF, VEC_NP, VEC_SS, VEC_GP, VEC_PF = 0, 3, 6, 8, 11, 12, 13, 14


def idt_error(vector):
    """Error code for a fault on an IDT gate: index = vector, IDT flag."""
    return vector * 8 + 2


def usermode():
    fl_if, fl_cf, iopl3 = 0x200, 0x1, 0x3000
    user_flags = 0x2 | fl_if
    return [
        "RESULT usermode"
        # IRETQ to CPL 3 loads CS and SS as pushed and nulls DS, whose
        # DPL 0 is below the new CPL (Vol. 2A "IRET").
        f" cs={UCODE | 3:#x} ss={UDATA | 3:#x} ds=0"
        # SYSCALL: CS = STAR[47:32], SS = +8, RFLAGS &= ~FMASK (IF
        # cleared), RCX = next RIP, R11 = RFLAGS; the kernel returns 3*7.
        f" syscall={3 * 7:#x} kcs={KCODE:#x} kss={KDATA:#x}"
        f" kflags={user_flags & ~fl_if:#x} r11={user_flags:#x} rcx_ok=1"
        # SYSRET: CS = STAR[63:48] + 16 | 3, SS = STAR[63:48] + 8 | 3.
        f" ucs={UCODE32 + 16 | 3:#x} uss={UCODE32 + 8 | 3:#x}"
        f" uflags={user_flags:#x}"
        # INT 0x80 through a DPL 3 gate: handler returns 41 + 1; an
        # interrupt gate clears IF.
        f" int80=42 cs={UCODE | 3:#x} ss={UDATA | 3:#x} if=1/0"
        # DPL 0 gates at CPL 3: #GP with the IDT flag (bits 2:0 = 010b).
        f" int81=1/{VEC_GP}/0x2 int3=1/{VEC_GP}/0x2"
        " privileged_gp0=20/20 iopl3_faults=0"
        # POPF at CPL 3 (Vol. 2B "POPF"): IOPL never changes, IF only if
        # CPL <= IOPL.
        f" popf={0x2 | fl_if | fl_cf:#x} popf_iopl3={0x2 | iopl3 | fl_cf:#x}"
        f" back_cs={KCODE:#x}"
    ], [f"DETAIL usermode int81_error={idt_error(0x81):#x}"
        f" int3_error={idt_error(3):#x}"]


def _examine(sel, cpl):
    """LAR, LSL, VERR, VERW of `sel` at `cpl` (Vol. 2A "LAR", "LSL",
    Vol. 2B "VERR/VERW"; IA-32e mode system types)."""
    index = sel & ~7
    if sel & ~3 == 0 or sel & 4 or index + 7 > GDT_LIMIT:
        return "-,-,--"
    d = GDT[index]
    s = d >> 44 & 1
    typ = d >> 40 & 0xF
    dpl = d >> 45 & 3
    conforming = s and typ & 0xC == 0xC
    if not conforming and (dpl < cpl or dpl < sel & 3):
        return "-,-,--"
    lar_ok = s or typ in (0x2, 0x9, 0xB, 0xC)
    lsl_ok = s or typ in (0x2, 0x9, 0xB)
    limit = (d & 0xFFFF) | (d >> 32 & 0xF0000)
    if d >> 55 & 1:  # G: 4 KiB units
        limit = limit << 12 | 0xFFF
    code = typ & 8
    readable = s and (not code or typ & 2)
    writable = s and not code and typ & 2
    lar = f"{d >> 32 & 0x00F0FF00:#x}" if lar_ok else "-"
    lsl = f"{limit:#x}" if lsl_ok else "-"
    return (f"{lar},{lsl},{'r' if readable else '-'}"
            f"{'w' if writable else '-'}")


SENSITIVE_SELECTORS = [0x00, KCODE, KDATA, UCODE32 | 3, UDATA | 3, UCODE | 3,
                       TSS, TSS + 8, 0x40, KDATA | 3, UDATA, 0x0C]


def sensitive():
    lines = [
        # SGDT/SIDT store the runtime's limits and bases at CPL 3; SLDT
        # gives the null LDTR, STR the TSS; SMSW all of CR0 to a register
        # in 64-bit mode; PUSHF after XOR: ZF|PF|IF|bit 1; POPF of IOPL 3
        # and IF 0 at CPL 3 changes neither.
        f"RESULT sensitive sgdt={GDT_LIMIT:#x},1 sidt={IDT_LIMIT:#x},1"
        f" sldt=0,0 str={TSS:#x},{TSS:#x} smsw=1,1,1"
        f" pushf={0x2 | 0x4 | 0x40 | 0x200:#x} popf={0x2 | 0x200:#x}",
    ]
    for cpl in (3, 0):
        items = " ".join(f"{sel:#x}:{_examine(sel, cpl)}" if sel else
                         f"0:{_examine(sel, cpl)}"
                         for sel in SENSITIVE_SELECTORS)
        lines.append(f"RESULT sensitive cpl={cpl} {items}")
    return lines


def paging():
    a, d = 0x20, 0x40
    faults = [
        ("absent_read", 0), ("absent_write", PF_W),
        ("ro_read", None), ("ro_write", PF_P | PF_W),
        ("ro_write_wp0", None), ("ro_write_wp1", PF_P | PF_W),
        ("absent_pml4", 0),
        # I/D only with EFER.NXE = 1.
        ("absent_fetch", 0), ("absent_fetch_nxe", PF_I), ("fetch", None),
        ("xd_fetch", PF_P | PF_I), ("xd_read", None),
        ("xd_pde_fetch", PF_P | PF_I), ("unmapped_read", 0),
        ("user_super_read", PF_P | PF_U), ("user_ro_read", None),
        ("user_ro_write", PF_P | PF_W | PF_U), ("user_absent_read", PF_U),
    ]
    items = " ".join(f"{name}={'-' if e is None else hex(e) if e else '0'}"
                     for name, e in faults)
    return [
        # Frames hold 0xA0 and 0xA1: old, new after INVLPG, back after MOV
        # CR3, new again after a CR4.PGE toggle.
        f"RESULT paging mapped=1 a_d={a:#x},{a:#x},{a | d:#x} large=1"
        " new_translation=0xa0a1a0a0 straddle=1 rsvd_faults=3",
        f"RESULT paging {items} cr2_bad=0",
    ], [
        f"DETAIL paging rsvd_bit51={PF_P | PF_RSVD:#x}"
        f" rsvd_xd={PF_P | PF_W | PF_RSVD:#x}"
        f" rsvd_pml4_ps={PF_P | PF_RSVD:#x}",
    ]


def exceptions():
    # Data segment at 0x40 absent, 0x48 execute-only code, 0x50 an LDT
    # descriptor, 0x58 DPL 3 data, 0x60 read-only data; 13 entries.
    seg = [
        ("ds_null", None), ("ds_absent", (VEC_NP, 0x40)),
        ("ds_xonly", (VEC_GP, 0x48)), ("ds_system", (VEC_GP, 0x50)),
        ("ds_rpl3", (VEC_GP, KDATA)), ("ds_limit", (VEC_GP, 13 * 8)),
        ("ds_ldt", (VEC_GP, 0x0C)), ("ss_dpl3", (VEC_GP, 0x58)),
        ("ss_ro", (VEC_GP, 0x60)), ("ss_absent", (VEC_SS, 0x40)),
        ("ss_null_rpl0", None), ("ljmp_data", (VEC_GP, KDATA)),
    ]
    other = [
        ("noncanonical_ds", (VEC_GP, 0)), ("ud2", (VEC_UD, 0)),
        ("push_es", (VEC_UD, 0)), ("into", (VEC_UD, 0)),
        ("lock_nop", (VEC_UD, 0)), ("mov_cs", (VEC_UD, 0)),
        ("syscall", (VEC_UD, 0)), ("div0", (VEC_DE, 0)),
        ("idiv_overflow", (VEC_DE, 0)), ("div8_overflow", (VEC_DE, 0)),
        ("int3", (VEC_BP, 0)), ("int_3", (VEC_BP, 0)),
    ]
    detail = [
        ("ss_null_rpl3", (VEC_GP, 0)), ("noncanonical_ss", (VEC_SS, 0)),
        ("wrmsr_noncanonical", (VEC_GP, 0)),
        ("int_absent", (VEC_NP, idt_error(0x90))),
        ("int_beyond_limit", (VEC_GP, idt_error(0xA0))),
        # No counter with that index: #GP(0) (Vol. 2B "RDPMC").
        ("rdpmc", (VEC_GP, 0)),
    ]

    def fmt(items):
        return " ".join(f"{n}=-" if r is None else
                        f"{n}={r[0]}/{r[1]:#x}" if r[1] else f"{n}={r[0]}/0"
                        for n, r in items)
    return [
        f"RESULT exceptions {fmt(seg)}",
        # A #GP whose gate is absent: #NP while delivering it, a double
        # fault with error 0 (Vol. 3A 7.15, Table 7-5).
        # INT through an absent gate on an absent stack: #NP, then #PF
        # pushing its frame (write, not present: error 2) at 8 below the
        # stack pointer, delivered serially (Table 7-5), not a #DF.
        f"RESULT exceptions {fmt(other)} trap_rip=1,1 gp_gate_absent={VEC_DF}/0"
        f" int_bad_stack={VEC_PF}/{PF_W:#x} cr2=-0x8",
    ], [f"DETAIL exceptions {fmt(detail)}"]


def smc():
    return [
        f"RESULT smc imm={sum(range(1, 101))} next={sum(range(1, 51))}"
        f" alias={sum(1000 * k for k in range(1, 21))}"
        f" straddle={sum(k << 8 for k in range(1, 21))} copy=1,{2 + 40}"
    ]


def timer():
    # One one-shot interrupt, five periodic ones, none while masked, one
    # after STI; NOP, one once TPR drops, one once CR8 drops; CR8 = 3
    # reads as TPR 0x30, TPR 0x70 as CR8 = 7; never the spurious vector.
    # reprf: the interrupt that arrives during a long REP LODSB is taken
    # between iterations with RIP at the REP (Vol. 1 7.3.9.1) and RF = 1
    # in its frame (Vol. 3B 18.3.1.1).
    return (["RESULT timer oneshot=1 isr=1,0 current=0 periodic=5 current=0"
             " masked=1,0,0 if0=1,0,1 tpr=1,0,1 cr8=0x30,7,1,0,1 spurious=0"],
            ["DETAIL timer reprf=1,1"])


def strict():
    # VMFUNC without VMX non-root operation (or with "enable VM functions"
    # clear): #UD (Vol. 2C "VMFUNC"). INVD completes at CPL 0 and is
    # #GP(0) at CPL 3 (Vol. 2A "INVD"). Every bad control-register, DR7
    # and EFER value is #GP(0) (Vol. 3A 2.5, Vol. 2B "MOV to CR",
    # "MOV to DR", Vol. 4 Table 2-2 for EFER); the state stays as it was.
    faults = ["cr0_bit32", "cr0_ne_bit32", "cr0_ne_bit63", "cr0_ne_nw",
              "cr4_bit63", "cr4_vmxe_bit32", "cr0_ne_pg_off", "cr4_pae_off"]
    later = ["cr3_bit60", "dr7_bit32", "efer_bit2", "efer_lme_off"]
    gp = f"{VEC_GP}/0"
    return ([f"RESULT strict vmfunc={VEC_UD}/0 invd=- invd_cpl3={gp}"],
            ["DETAIL strict " + " ".join(f"{n}={gp}" for n in faults)
             + " cr0_ne=- cr0_back=- cr0=same cr4=same "
             + " ".join(f"{n}={gp}" for n in later) + " efer=same"])


def strio():
    # REP OUTSB of "turtles", then with DF = 1 from its last byte; OUTSB
    # through FS; REP INSB of the UART's line status register with the
    # transmitter drained: THRE and TEMT (0x60) every time (16550).
    ins = ",".join(["0x60"] * 8)
    return [f"RESULT strio out=turtles back=seltrut fs=F in={ins}"
            " regs=1,1,1,1"]


def pcplatform():
    # From the data sheets and QEMU's -machine pc (which turtles follows):
    # five IRQ0s, IR0's ISR bit (0x1) in the handler and none after EOI
    # (8259A); OUT2 low after a mode-0 control word, high at terminal
    # count, the count going down (82C54); RTC register B 0x02 (BCD,
    # 24-hour, as firmware leaves it), D 0x80 (VRT), four 1024 Hz periodic
    # interrupts, the seconds advancing (MC146818A); IOAPIC version 0x20
    # with 24 entries, three IRQ0s through pin 2; the 440FX host bridge
    # 8086:1237, class 060000, an empty slot reading all ones; fw_cfg
    # "QEMU", the traditional interface, one CPU, 256 MiB (the runners'
    # -m 256 and turtles' default); the RSDP in the BIOS area, every
    # checksum right, SCI 9, PIIX4 PM at 0x600 (PM1a_CNT 0x604, PM_TMR
    # 0x608), the LAPIC at 0xFEE00000, one processor, the IOAPIC at
    # 0xFEC00000, IRQ0 on GSI 2, an \_S5 object; the PM timer at 3.58 MHz.
    # lint0: LINT0 in NMI mode turns the 8259's rising INTR into one NMI
    # (SDM Vol. 3A 11.5.1), which ends HLT with IF = 0 (Vol. 2A "HLT").
    return [
        "RESULT pic+pit irq0=5 isr=0x1,0",
        "RESULT lint0 nmi=1 at_hlt=1 if=0",
        "RESULT pit2 out2=1,1 countdown=1",
        "RESULT rtc b=0x2 d=0x80 sane=1 periodic=4 advanced=1",
        "RESULT ioapic version=0x20 entries=24 pin2_irq0=3",
        "RESULT pci host=8086:1237 class=060000 empty=0xffffffff",
        "RESULT fw_cfg signature=QEMU traditional=1 cpus=1 ram_mib=256",
        "RESULT acpi rsdp=1 checksums=ok sci=9 pm1a_cnt=0x604 pm_tmr=0x608"
        " madt_lapic=0xfee00000 lapics=1 ioapic=0xfec00000 irq0_gsi=2 s5=1",
        "RESULT pm_timer rate=ok",
    ]


def apicoff():
    # SDM Vol. 3A 11.4.3: EN = 0 clears CPUID.1:EDX.APIC and stops the
    # APIC's interrupts (two timer ticks before, none after); the page
    # then reads as unbacked memory. EN = 1 again: the power-up state of
    # 11.4.7.1 (SVR 0xFF, LVT masked, TPR 0, no count, IRR clear).
    # Reserved bits 9 and 63, EXTD without x2APIC, and the state EN = 0,
    # EXTD = 1 (11.12.5) are #GP.
    lines = ["RESULT apicoff cpuid=1,0 en=1,0 irq=1,0"]
    details = ["DETAIL apicoff again=1,1 page=0xffffffff"
               " reset=0xff,0x10000,0,0,0 gp=1,1,1,1"]
    return lines, details


def nmi():
    # SDM Vol. 3A 7.7: the first self-NMI runs the vector 2 handler with
    # IF = 0 in its frame; the two it sends from inside are held off by
    # blocking by NMI (the handler still counts 1), one is latched and
    # taken after its IRET, the other lost: 2 in all. 11.6.1: an IPI is
    # taken at the next instruction boundary.
    return (["RESULT nmi count=2 in_handler=1 vector=2 if=0"],
            ["DETAIL nmi at_next=1"])


def debug():
    # SDM Vol. 3B 18.2-18.3. exec: two calls, two #DB faults at the
    # target, B0, RF pushed as 0. write: the read does not trap, the write
    # traps after itself, B1 (0x2). rw: the byte next to it does not
    # trap, the read of it does, B2 (0x4). len8: offset 5 of the aligned
    # quadword traps, offset 8 does not, B3 (0x8). step: 6 traps with BS.
    # movss: 5 traps (the MOV SS trap merges with the next one). DR6 and
    # DR7 written 0 read their fixed ones (0xFFFF0FF0, 0x400). rep: one
    # trap after the fourth of 8 iterations, at the REP, RCX = 4, and all
    # 8 bytes stored in the end. repstep: TF over a 4-byte REP STOSB traps
    # after every iteration (18.3.1.4), at the REP with RCX 3, 2, 1, then
    # after it with RCX 0; 3 more for PUSHF, AND, POPF: 7.
    lines = ["RESULT debug exec=2,1,0x1,0 write=1,1,0x2,0 rw=1,1,0x4"
             " len8=1,0x8 rep=1,1,4,1 step=6,1 repstep=7,3.2.1,0 movss=5"
             " regs=0xffff0ff0,0x400"]
    # INT1: no #UD, one trap after it, DR6 unchanged; GD: one fault at the
    # MOV, BD set, GD clear in the handler, RF pushed as 1; the REP trap
    # (not after the last iteration) pushes RF = 1 (18.3.1.1), so do the
    # single-step traps of the first 3 iterations, not that of the last.
    details = ["DETAIL debug int1=0,1,1,0xffff0ff0 gd=1,1,1,0,1 rep_rf=1"
               " repstep_rf=1,0"]
    return lines, details


def debug_delivery():
    # SDM Vol. 3B 18.3.1.2: a data breakpoint is a trap, and the stack
    # pushes of an event's delivery are accesses like an instruction's.
    # ud: DR0 on the slot where the #UD frame's SS goes: one #DB, B0, RF
    # pushed as 0, its frame's RIP the #UD handler's entry (nmi_at: the
    # same for a self-NMI), the #DB handler before the #UD's (turns 1, 2);
    # the #UD frame's RIP is the UD2. dbself: the #DB of a write trap
    # (DR0) pushes SS where DR1 watches: a second #DB at the first one's
    # entry, B1 replacing B0 in DR6 (18.2.3), which both handlers read.
    lines = ["RESULT debug ud=1,1,1,0x1,0,1,2 dbself=2,1,0x2,0x2,0"
             " nmi=1,1,0x1,0,1,2"]
    details = ["DETAIL debug nmi_at=1"]
    return lines, details


def vectoring():
    # Each event arrives once although its delivery is interrupted by a
    # VM exit under shadow paging (SDM Vol. 3C 27.2.3, 26.6); #GP for a
    # selector past the GDT limit has the selector as error code (Vol. 3A
    # 6.13); every frame holds the fresh stack's top as RSP (10 MiB).
    return ["RESULT vectoring int3=1 int=1 ud=1 gp=1 gp_error=0x1230 tf=1 "
            "timer=1 rsp=ok"]
