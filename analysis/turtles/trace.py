"""`scripts/exp trace`: the path of one L2 exit through the levels, from
exit_trace and trace_steps (a run made with --trace), as text and as an
SVG sequence diagram with three lifelines, L2, L1 and L0.

The timeline: the L2 exit, L0's steps (the reflection decision and why,
the vmcs02 -> vmcs12 sync, shadow VMCS syncs), every L1 exit it caused
with L0's work for it (each trapped VMREAD/VMWRITE with the field's name
and value; on VMRESUME the entry checks and the merge with its field
count), and the VM entry that resumes L2. Its total is the episode's:
modeled cycles from the L2 exit to that VM entry, the number
trace_l2_exits.episode_cycles holds and nested_costs sums."""

from dataclasses import dataclass
from html import escape

from . import results

TRAPS = {23: "VMREAD traps to L0 (field not shadowed)",
         25: "VMWRITE traps to L0 (field not shadowed)",
         24: "VMRESUME: L0 checks, merges and enters L2",
         20: "VMLAUNCH: L0 checks, merges and enters L2"}


class TraceError(Exception):
    pass


@dataclass
class Event:
    cycle: int
    frm: int          # the level that acts (exits, or L0 for its steps)
    to: int           # where control goes (0 for an exit or a step)
    what: str
    cycles: int | None  # charged cycles; None: part of its exit's cost
    kind: str         # 'exit' or 'step'


def pick(con, run_id=None, seq=None, reason=None):
    """(run row, the L2 exit's row): by seq, or the first L2 exit of a
    reason (name or number), or the first L2 exit reflected to L1."""
    if run_id is None:
        row = con.execute("SELECT max(run_id) FROM runs WHERE "
                          "trace_truncated IS NOT NULL AND mode = 'nested'"
                          ).fetchone()
        run_id = row[0]
        if run_id is None:
            raise TraceError("no traced nested run in the database: run one "
                             "with turtles run --mode nested --trace --db, "
                             "or trace = true in an experiment")
    where, args = ["t.run_id = ?", "t.guest_level = 2"], [run_id]
    if seq is not None:
        where.append("t.seq = ?")
        args.append(seq)
    elif reason is not None:
        if str(reason).isdigit():
            where.append("t.reason = ?")
            args.append(int(reason))
        else:
            where.append("upper(r.name) = upper(?)")
            args.append(reason)
    else:
        where.append("t.handler_level = 1")
    exit_row = con.execute(
        "SELECT t.seq, t.handler_level, t.reason, "
        "coalesce(r.name, 'UNDEFINED'), t.guest_rip, t.qualification, "
        "t.cycle, t.cycles FROM exit_trace AS t LEFT JOIN exit_reasons AS r "
        "USING (reason) WHERE " + " AND ".join(where) +
        " ORDER BY t.seq LIMIT 1", args).fetchone()
    if exit_row is None:
        raise TraceError(f"run {run_id} has no such L2 exit")
    run = con.execute("SELECT run_id, json_extract(options, '$.label'), "
                      "json_extract(options, '$.vmcs_shadowing'), "
                      "json_extract(options, '$.merge') FROM runs WHERE "
                      "run_id = ?", (run_id,)).fetchone()
    return run, exit_row


STEP_TEXT = {
    "reflect": "reflect to L1: {d}",
    "l0-handles": "L0 handles it: {d}",
    "nested-exit": "nested VM exit: {v} fields vmcs02 -> vmcs12",
    "sync-to-shadow": "shadow sync: {v} fields vmcs12 -> shadow VMCS",
    "sync-from-shadow": "shadow sync: {v} fields shadow VMCS -> vmcs12",
    "merge": "merge ({d}): {v} fields vmcs12 -> vmcs02",
    "ept02-fill": "EPT02 miss at L2 GPA {v:#x}: {d}",
    "vmread": "L0 reads vmcs12 {d} ({f:#06x}) = {v:#x}",
    "vmwrite": "L0 writes vmcs12 {d} ({f:#06x}) = {v:#x}",
}


def _step_text(step, field, value, detail):
    """One of L0's steps in words (docs/results.md, trace_steps)."""
    if step == "entry-checks":
        return "entry checks pass" if value else f"entry checks fail: {detail}"
    return STEP_TEXT.get(step, step).format(
        v=(value or 0) & (2**64 - 1), f=field or 0,
        d=detail or "unsupported field")


def _steps(con, run_id, exit_seq):
    if not results.has_table(con, "trace_steps"):
        return []
    return con.execute("SELECT cycle, step, field, value, cycles, detail "
                       "FROM trace_steps WHERE run_id = ? AND exit_seq = ? "
                       "ORDER BY seq", (run_id, exit_seq)).fetchall()


def timeline(con, run_id, exit_row):
    """([Event], the episode's total cycles or None): the L2 exit, each
    exit it caused, each followed by L0's steps for it, and last the VM
    entry that resumes L2."""
    seq, handler, reason, name, rip, qual, cycle, cost = exit_row
    where = "reflected to L1" if handler == 1 else "handled by L0 alone"
    events = [Event(cycle, 2, 0, f"VM exit: {name} ({where})", cost, "exit")]
    total, resumed_at = None, None

    def add_steps(exit_seq):
        nonlocal total, resumed_at
        for s_cycle, step, field, value, s_cycles, detail in _steps(
                con, run_id, exit_seq):
            if step == "l2-resumes":
                total, resumed_at = s_cycles, s_cycle
                continue
            events.append(Event(s_cycle, 0, 0, _step_text(step, field, value,
                                                          detail),
                                s_cycles or None, "step"))

    add_steps(seq)
    for c_seq, c_reason, c_name, c_cycle, c_cost in con.execute(
            "SELECT t.seq, t.reason, coalesce(r.name, 'UNDEFINED'), t.cycle, "
            "t.cycles FROM exit_trace AS t LEFT JOIN exit_reasons AS r "
            "USING (reason) WHERE t.run_id = ? AND t.parent_seq = ? "
            "ORDER BY t.seq", (run_id, seq)):
        events.append(Event(c_cycle, 1, 0, TRAPS.get(
            c_reason, f"L1's {c_name} exits to L0"), c_cost, "exit"))
        add_steps(c_seq)
    if resumed_at is not None:
        events.append(Event(resumed_at, 0, 2, "VM entry: L2 resumes", None,
                            "entry"))
    return events, total


def text(con, run_id=None, seq=None, reason=None):
    run, ex = pick(con, run_id, seq, reason)
    events, total = timeline(con, run[0], ex)
    lines = [f"Run {run[0]} ({run[1] or 'no label'}, VMCS shadowing "
             f"{run[2]}, merge {run[3]}): L2 exit #{ex[0]}, {ex[3]} at L2 "
             f"rip {ex[4] & (2**64 - 1):#x}, qualification "
             f"{ex[5] & (2**64 - 1):#x}",
             f"  {'cycle':>12}  {'level':8}  {'what':60} {'cycles':>7}"]
    for e in events:
        where = (f"L{e.frm} -> L{e.to}" if e.kind != "step" else "  L0")
        cost = f"{e.cycles:,}" if e.cycles is not None else ""
        lines.append(f"  {e.cycle:>12,}  {where:8}  {e.what:60} {cost:>7}")
    exits = [e for e in events if e.kind == "exit"]
    exit_cost = sum(e.cycles for e in exits)
    step_cost = sum(e.cycles or 0 for e in events if e.kind == "step")
    if total is None:
        lines.append("  No total: L2 was not resumed before the run ended, "
                     "or the run was recorded before trace_steps existed.")
        return "\n".join(lines)
    lines += [
        f"  Total of this L2 exit: {total:,} cycles, from the exit to the "
        "VM entry that resumes L2:",
        f"    {exit_cost:>9,}  {len(exits)} exits (1 of L2, {len(exits) - 1} "
        "of L1): VM exit, L0's handler, VM entry (cost profile)",
        f"    {step_cost:>9,}  L0's steps charged apart (merge, shadow "
        "syncs)",
        f"    {total - exit_cost - step_cost:>9,}  L1's own instructions "
        "between its exits",
        "  The same number is trace_l2_exits.episode_cycles; nested_costs "
        "sums it over the run's L2 exits of each reason."]
    return "\n".join(lines)


def svg(con, run_id=None, seq=None, reason=None):
    """A sequence diagram: lifelines L2, L1, L0; an arrow per exit into L0,
    L0's steps as notes on its lifeline, and a dashed arrow for each
    return to L1 or L2, labeled with the step and its cycles."""
    run, ex = pick(con, run_id, seq, reason)
    events, total = timeline(con, run[0], ex)
    x = {2: 90, 1: 290, 0: 490}
    row = 26
    rows = 2 * len(events)
    height = 100 + row * (rows + 1)
    n_l1 = sum(1 for e in events if e.kind == "exit") - 1
    title = (f"{escape(ex[3])} L2 exit #{ex[0]} of run {run[0]} "
             f"({escape(str(run[1]))}): {n_l1} L1 exits, "
             + (f"{total:,} cycles in all" if total is not None
                else "no total recorded"))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="980" '
             f'height="{height}" font-family="sans-serif" font-size="11">',
             '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="8" '
             'refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker>'
             '</defs>',
             f'<text x="10" y="18" font-size="13">{title}</text>']
    for level, lx in x.items():
        parts.append(f'<text x="{lx}" y="44" text-anchor="middle" '
                     f'font-weight="bold">L{level}</text>')
        parts.append(f'<line x1="{lx}" y1="50" x2="{lx}" y2="{height - 10}" '
                     'stroke="#999" stroke-dasharray="4,3"/>')
    y = 70
    reflected = False
    for i, e in enumerate(events):
        nxt = events[i + 1] if i + 1 < len(events) else None
        cost = f" ({e.cycles:,} cycles)" if e.cycles is not None else ""
        if e.kind == "step":
            parts.append(f'<circle cx="{x[0]}" cy="{y - 4}" r="3"/>'
                         f'<text x="{x[0] + 10}" y="{y}" fill="#333">'
                         f'{escape(e.what + cost)}</text>')
        elif e.kind == "entry":
            parts.append(_arrow(x[0], x[2], y, e.what, dashed=True))
        else:
            parts.append(_arrow(x[e.frm], x[0], y, e.what + cost))
        y += row
        # L0 gives control to L1 again when another exit of L1 follows.
        if e.kind != "entry" and nxt is not None and nxt.kind == "exit":
            parts.append(_arrow(x[0], x[1], y, "L0 resumes L1" if reflected
                                else "nested VM exit: L1 runs its handler",
                                dashed=True))
            reflected = True
            y += row
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _arrow(x1, x2, y, label, dashed=False):
    dash = ' stroke-dasharray="5,3"' if dashed else ""
    return (f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="black"'
            f'{dash} marker-end="url(#a)"/>'
            f'<text x="{max(x1, x2) + 8 if x1 > x2 else min(x1, x2) + 6}" '
            f'y="{y - 4}">{escape(label)}</text>')
