"""Exit multiplication: for every nested configuration and L2 exit
reason, the L1 exits one L2 exit caused (and of them, L1's trapped
VMREAD/VMWRITEs) and where its cycles went, with Turtles' published
multiplication where the paper gives one."""

from .. import published, results
from ..table import Table

REASON_VMREAD, REASON_VMWRITE = 23, 25


def _traps(con, ids):
    """{L2 reason: L1's VMREAD/VMWRITE traps the L2 exits caused}, from
    nested_l1_exits (schema 5); None for an older database."""
    if not results.has_table(con, "nested_l1_exits"):
        return None
    return dict(con.execute(
        "SELECT reason, sum(count) FROM nested_l1_exits "
        f"WHERE run_id IN ({results.placeholders(ids)}) AND l1_reason IN "
        f"({REASON_VMREAD}, {REASON_VMWRITE}) GROUP BY reason", ids).fetchall())


def table(con):
    t = Table("multiplication", "L1 exits per L2 exit, by reason",
              ["configuration", "L1", "L2 reason", "L2 exits",
               "L1 exits / L2", "VMREAD/VMWRITE traps / L2", "paper",
               "cycles / L2 exit", "L0", "L1 cycles", "L2", "switches"])
    good, _ = results.configurations(con)
    for runs in good.values():
        if runs[0].mode != "nested":
            continue
        ids = results.run_ids(runs)
        traps = _traps(con, ids)
        for row in con.execute(
                "SELECT reason, coalesce(e.name, 'UNDEFINED'), "
                "sum(l2_exits), sum(l1_exits_caused), sum(cycles_total), "
                "sum(cycles_l0), sum(cycles_l1), sum(cycles_l2), "
                "sum(cycles_transitions) FROM nested_costs "
                "LEFT JOIN exit_reasons AS e USING (reason) "
                f"WHERE run_id IN ({results.placeholders(ids)}) "
                "GROUP BY reason ORDER BY sum(l2_exits) DESC", ids):
            reason, name, n = row[0], row[1], row[2]
            paper = published.L1_EXITS_PER_L2_EXIT.get(reason)
            if paper:
                paper = paper[0] if runs[0].vmcs_shadowing == "off" \
                    else paper[1]
            t.rows.append([runs[0].config, runs[0].l1_name or "-", name, n,
                           row[3] / n,
                           None if traps is None else traps.get(reason, 0) / n,
                           paper] + [v / n for v in row[4:]])
    t.notes.append("paper: Turtles sec. 4.1/4.3, its L1 KVM 2.6.35: CPUID "
                   "12 L1 exits (11 VMREAD/VMWRITE traps and VMRESUME), or 1 "
                   "without vmread/vmwrite traps (13 and 2 exit pairs with "
                   "the L2 exit); PIO 31 or 14.")
    t.notes.append("L1 exits and traps count only L1's exits while an L2 "
                   "exit of the row's reason was handled (nested_l1_exits), "
                   "not an L1's own setup such as KVM's VMCS setup before "
                   "its first VM entry. L1: the --l1 of the run ('-': not "
                   "recorded, a database older than schema 5).")
    return t
