"""`scripts/exp trace`: the path of one L2 exit through the levels, from
exit_trace (a run made with --trace), as text and as an SVG sequence
diagram with three lifelines, L2, L1 and L0.

What the database records is shown; what it does not is said: the VMCS
field of a trapped VMREAD/VMWRITE (it is in a register of L1, not in the
exit qualification) and L0's own steps inside one exit (the reflection
decision, shadow sync, the merge, EPT02 fills, entry checks) are not in
exit_trace yet."""

from html import escape

from . import results

TRAPS = {23: "VMREAD traps to L0 (field not shadowed)",
         25: "VMWRITE traps to L0 (field not shadowed)",
         24: "VMRESUME: L0 builds vmcs02 and enters L2",
         20: "VMLAUNCH: L0 builds vmcs02 and enters L2"}


class TraceError(Exception):
    pass


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


def steps(con, run_id, exit_row):
    """[(cycle, from level, to level, what, cycles)] of one L2 exit: the
    exit itself, then the L1 exits it caused, in order."""
    seq, handler, reason, name, rip, qual, cycle, cost = exit_row
    where = "reflected to L1" if handler == 1 else "handled by L0 alone"
    out = [(cycle, 2, 0, f"VM exit: {name} ({where})", cost)]
    for c_seq, c_reason, c_name, c_cycle, c_cost in con.execute(
            "SELECT t.seq, t.reason, coalesce(r.name, 'UNDEFINED'), t.cycle, "
            "t.cycles FROM exit_trace AS t LEFT JOIN exit_reasons AS r "
            "USING (reason) WHERE t.run_id = ? AND t.parent_seq = ? "
            "ORDER BY t.seq", (run_id, seq)):
        out.append((c_cycle, 1, 0, TRAPS.get(c_reason, f"L1's {c_name} "
                                              "exits to L0"), c_cost))
    return out


def text(con, run_id=None, seq=None, reason=None):
    run, ex = pick(con, run_id, seq, reason)
    st = steps(con, run[0], ex)
    lines = [f"Run {run[0]} ({run[1] or 'no label'}, VMCS shadowing "
             f"{run[2]}, merge {run[3]}): L2 exit #{ex[0]}, {ex[3]} at L2 "
             f"rip {ex[4] & (2**64 - 1):#x}, qualification "
             f"{ex[5] & (2**64 - 1):#x}",
             f"  {'cycle':>12}  {'exit':8}  {'what':48} {'cost':>7}"]
    for cycle, frm, to, what, cost in st:
        lines.append(f"  {cycle:>12,}  L{frm} -> L{to}  {what:48} {cost:>7,}")
    first, last = st[0], st[-1]
    total = sum(s[4] for s in st)
    lines += [
        f"  {len(st) - 1} L1 exits caused; the exits' costs sum to "
        f"{total:,} cycles (view trace_l2_exits).",
        f"  Modeled time from the L2 exit to the end of the last step: "
        f"{last[0] + last[4] - first[0]:,} cycles (includes L1's own "
        "instructions between its exits).",
        "  Not recorded, so not shown: the field of each VMREAD/VMWRITE, "
        "and L0's steps inside an exit (reflection decision, shadow sync, "
        "merge, EPT02 fills, entry checks)."]
    return "\n".join(lines)


def svg(con, run_id=None, seq=None, reason=None):
    """A sequence diagram: lifelines L2, L1, L0; an arrow per exit into L0
    and one back for each return, labeled with the step and its cost."""
    run, ex = pick(con, run_id, seq, reason)
    st = steps(con, run[0], ex)
    x = {2: 90, 1: 290, 0: 490}
    row = 34
    height = 90 + row * (2 * len(st) + 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="760" '
             f'height="{height}" font-family="sans-serif" font-size="11">',
             '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="8" '
             'refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker>'
             '</defs>',
             f'<text x="10" y="18" font-size="13">{escape(ex[3])} L2 exit '
             f'#{ex[0]} of run {run[0]} ({escape(str(run[1]))}): '
             f'{len(st) - 1} L1 exits</text>']
    for level, lx in x.items():
        parts.append(f'<text x="{lx}" y="44" text-anchor="middle" '
                     f'font-weight="bold">L{level}</text>')
        parts.append(f'<line x1="{lx}" y1="50" x2="{lx}" y2="{height - 10}" '
                     'stroke="#999" stroke-dasharray="4,3"/>')
    y = 70
    back = 1 if ex[1] == 1 else 2  # L0 returns to L1 (reflected) or L2
    for i, (cycle, frm, to, what, cost) in enumerate(st):
        parts.append(_arrow(x[frm], x[to], y, f"{what} ({cost:,} cycles)"))
        y += row
        ret = back if i < len(st) - 1 else 2
        label = ("L0 resumes L1" if ret == 1 else "VM entry: L2 resumes")
        if i == 0 and ex[1] == 1:
            label = "nested VM exit: L0 reflects it to L1"
        parts.append(_arrow(x[0], x[ret], y, label, dashed=True))
        y += row
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _arrow(x1, x2, y, label, dashed=False):
    dash = ' stroke-dasharray="5,3"' if dashed else ""
    return (f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="black"'
            f'{dash} marker-end="url(#a)"/>'
            f'<text x="{max(x1, x2) + 8 if x1 > x2 else min(x1, x2) + 6}" '
            f'y="{y - 4}">{escape(label)}</text>')
