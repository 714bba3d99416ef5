"""Exit multiplication: for every nested configuration and L2 exit
reason, the L1 exits one L2 exit caused and where its cycles went, with
Turtles' published multiplication where the paper gives one."""

from .. import published, results
from ..table import Table


def table(con):
    t = Table("multiplication", "L1 exits per L2 exit, by reason",
              ["configuration", "L2 reason", "L2 exits", "L1 exits / L2",
               "paper", "cycles / L2 exit", "L0", "L1", "L2", "switches"])
    good, _ = results.configurations(con)
    for runs in good.values():
        if runs[0].mode != "nested":
            continue
        ids = results.run_ids(runs)
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
            t.rows.append([runs[0].config, name, n, row[3] / n, paper]
                          + [v / n for v in row[4:]])
    t.notes.append("paper: Turtles sec. 4.1/4.3: CPUID 12 L1 exits, or 1 "
                   "without vmread/vmwrite traps (13 and 2 exit pairs with "
                   "the L2 exit); PIO 31 or 14. Its L1 is KVM, ours l1vmm.")
    return t
