-- turtles results database: the contract between the emulator (which
-- writes it, l0/record/db.c) and the analysis (which only reads it).
-- Every column is described in docs/results.md. Changing a table, a
-- column or its meaning means raising user_version: the writer refuses a
-- database whose version it does not know, so old files are never mixed
-- with new semantics.
--
-- The writer runs this file once, inside one transaction, on an empty
-- database; `sqlite3 FILE < analysis/schema.sql` does the same by hand.

PRAGMA user_version = 5; -- 2: status 'interrupted'; 3: cost_profile_json;
                         -- 4: the roi tables, trace_steps, episode_cycles;
                         -- 5: nested_l1_exits

-- One row per `turtles run`. Everything below hangs off run_id.
CREATE TABLE runs (
    run_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at      TEXT NOT NULL,   -- host clock, ISO 8601 UTC: metadata only
    finished_at     TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('bare', 'single', 'nested')),
    image           TEXT NOT NULL,
    image_sha256    TEXT CHECK (image_sha256 IS NULL OR length(image_sha256) = 64),
    cmdline         TEXT NOT NULL,
    options         TEXT NOT NULL CHECK (json_valid(options)),
    git_revision    TEXT,
    cost_profile    TEXT NOT NULL,   -- the profile's name
    status          TEXT NOT NULL CHECK (status IN ('debug-exit', 'shutdown',
                        'triple-fault', 'halted', 'insn-limit', 'internal',
                        'interrupted')),
    exit_code       INTEGER NOT NULL,
    guest_status    INTEGER,         -- NULL: the guest did not report one
    instructions    INTEGER NOT NULL CHECK (instructions >= 0),
    cycles          INTEGER NOT NULL CHECK (cycles >= 0),
    host_ns         INTEGER NOT NULL CHECK (host_ns >= 0),
    trace_truncated INTEGER CHECK (trace_truncated IN (0, 1)), -- NULL: no trace
    cost_profile_json TEXT CHECK (cost_profile_json IS NULL OR
                                  json_valid(cost_profile_json))
    -- the profile's whole JSON file; NULL in runs of schema version 2
);

-- Basic exit reasons, SDM Vol. 3D Appendix C: reference data, so that
-- names are written once and every view can join on them.
CREATE TABLE exit_reasons (
    reason INTEGER PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE
);
INSERT INTO exit_reasons (reason, name) VALUES
    (0, 'EXCEPTION_NMI'), (1, 'EXTERNAL_INTERRUPT'), (2, 'TRIPLE_FAULT'),
    (3, 'INIT'), (4, 'SIPI'), (5, 'IO_SMI'), (6, 'OTHER_SMI'),
    (7, 'INTERRUPT_WINDOW'), (8, 'NMI_WINDOW'), (9, 'TASK_SWITCH'),
    (10, 'CPUID'), (11, 'GETSEC'), (12, 'HLT'), (13, 'INVD'), (14, 'INVLPG'),
    (15, 'RDPMC'), (16, 'RDTSC'), (17, 'RSM'), (18, 'VMCALL'),
    (19, 'VMCLEAR'), (20, 'VMLAUNCH'), (21, 'VMPTRLD'), (22, 'VMPTRST'),
    (23, 'VMREAD'), (24, 'VMRESUME'), (25, 'VMWRITE'), (26, 'VMXOFF'),
    (27, 'VMXON'), (28, 'CR_ACCESS'), (29, 'DR_ACCESS'),
    (30, 'IO_INSTRUCTION'), (31, 'RDMSR'), (32, 'WRMSR'),
    (33, 'INVALID_GUEST_STATE'), (34, 'MSR_LOADING'), (36, 'MWAIT'),
    (37, 'MONITOR_TRAP_FLAG'), (39, 'MONITOR'), (40, 'PAUSE'),
    (41, 'MACHINE_CHECK'), (43, 'TPR_BELOW_THRESHOLD'), (44, 'APIC_ACCESS'),
    (45, 'VIRTUALIZED_EOI'), (46, 'GDTR_IDTR_ACCESS'), (47, 'LDTR_TR_ACCESS'),
    (48, 'EPT_VIOLATION'), (49, 'EPT_MISCONFIG'), (50, 'INVEPT'),
    (51, 'RDTSCP'), (52, 'PREEMPTION_TIMER'), (53, 'INVVPID'),
    (54, 'WBINVD'), (55, 'XSETBV'), (56, 'APIC_WRITE'), (57, 'RDRAND'),
    (58, 'INVPCID'), (59, 'VMFUNC'), (60, 'ENCLS'), (61, 'RDSEED'),
    (62, 'PML_FULL'), (63, 'XSAVES'), (64, 'XRSTORS'), (65, 'PCONFIG'),
    (66, 'SPP_EVENT'), (67, 'UMWAIT'), (68, 'TPAUSE'), (69, 'LOADIWKEY');

-- Exits per (handler level, exited level, reason). Each exit is counted
-- once, under the level whose handler dealt with it.
CREATE TABLE exit_stats (
    run_id        INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    handler_level INTEGER NOT NULL CHECK (handler_level IN (0, 1)),
    guest_level   INTEGER NOT NULL CHECK (guest_level IN (1, 2)
                                          AND handler_level < guest_level),
    reason        INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    reason_name   TEXT NOT NULL,
    count         INTEGER NOT NULL CHECK (count > 0),
    cycles        INTEGER NOT NULL CHECK (cycles >= 0),
    host_ns       INTEGER NOT NULL CHECK (host_ns >= 0),
    PRIMARY KEY (run_id, handler_level, guest_level, reason)
) WITHOUT ROWID;

-- What L2 exits cost under nesting, per L2 exit reason: the L1 exits they
-- caused and their modeled cycles split by where they were spent.
CREATE TABLE nested_costs (
    run_id             INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    reason             INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    l2_exits           INTEGER NOT NULL CHECK (l2_exits > 0),
    l1_exits_caused    INTEGER NOT NULL CHECK (l1_exits_caused >= 0),
    cycles_total       INTEGER NOT NULL,
    cycles_l0          INTEGER NOT NULL CHECK (cycles_l0 >= 0),
    cycles_l1          INTEGER NOT NULL CHECK (cycles_l1 >= 0),
    cycles_l2          INTEGER NOT NULL CHECK (cycles_l2 >= 0),
    cycles_transitions INTEGER NOT NULL CHECK (cycles_transitions >= 0),
    CHECK (cycles_total = cycles_l0 + cycles_l1 + cycles_l2 + cycles_transitions),
    PRIMARY KEY (run_id, reason)
) WITHOUT ROWID;

-- The k=v pairs of the guests' RESULT and METRIC lines (docs/guests.md),
-- in the order they were printed.
CREATE TABLE guest_metrics (
    run_id INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL CHECK (seq >= 0),
    level  INTEGER NOT NULL CHECK (level IN (1, 2)),
    kind   TEXT NOT NULL CHECK (kind IN ('RESULT', 'METRIC')),
    guest  TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- Named whole-run counters of the emulator (tlb_fills, decoded, ...).
CREATE TABLE counters (
    run_id INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- Every exit in order (turtles run --trace). An L1 exit that happened
-- while an L2 exit was being handled points at it through parent_seq.
CREATE TABLE exit_trace (
    run_id        INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL CHECK (seq >= 0),
    parent_seq    INTEGER CHECK (parent_seq IS NULL OR parent_seq < seq),
    handler_level INTEGER NOT NULL CHECK (handler_level IN (0, 1)),
    guest_level   INTEGER NOT NULL CHECK (guest_level IN (1, 2)
                                          AND handler_level < guest_level),
    reason        INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    qualification INTEGER NOT NULL,  -- 64 bits, two's complement
    guest_rip     INTEGER NOT NULL,  -- 64 bits, two's complement
    cycle         INTEGER NOT NULL CHECK (cycle >= 0),
    cycles        INTEGER NOT NULL CHECK (cycles >= 0),
    host_ns       INTEGER NOT NULL CHECK (host_ns >= 0),
    PRIMARY KEY (run_id, seq),
    FOREIGN KEY (run_id, parent_seq) REFERENCES exit_trace (run_id, seq)
) WITHOUT ROWID;

-- "Which L1 exits did this L2 exit cause" without a scan of the run.
CREATE INDEX exit_trace_parent ON exit_trace (run_id, parent_seq)
    WHERE parent_seq IS NOT NULL;

-- Views: the questions the report asks, written once.

-- Exits and their cost per run and level pair.
CREATE VIEW run_exit_totals AS
SELECT run_id, handler_level, guest_level,
       sum(count) AS exits, sum(cycles) AS cycles, sum(host_ns) AS host_ns
FROM exit_stats
GROUP BY run_id, handler_level, guest_level;

-- Modeled cycles and host time per exit, by reason.
CREATE VIEW exit_cost_by_reason AS
SELECT run_id, handler_level, guest_level, reason, reason_name, count,
       cycles, CAST(cycles AS REAL) / count AS cycles_per_exit,
       host_ns, CAST(host_ns AS REAL) / count AS host_ns_per_exit
FROM exit_stats;

-- One L2 exit, on average: how many L1 exits it caused and where its
-- cycles went (the shape of Turtles' Figures 6 and 10).
CREATE VIEW nested_cost_per_exit AS
SELECT n.run_id, n.reason,
       coalesce(r.name, 'UNDEFINED') AS reason_name, n.l2_exits,
       CAST(n.l1_exits_caused AS REAL) / n.l2_exits AS l1_exits_per_l2_exit,
       CAST(n.cycles_total AS REAL) / n.l2_exits AS cycles_per_l2_exit,
       CAST(n.cycles_l0 AS REAL) / n.l2_exits AS l0_cycles_per_l2_exit,
       CAST(n.cycles_l1 AS REAL) / n.l2_exits AS l1_cycles_per_l2_exit,
       CAST(n.cycles_l2 AS REAL) / n.l2_exits AS l2_cycles_per_l2_exit,
       CAST(n.cycles_transitions AS REAL) / n.l2_exits
           AS transition_cycles_per_l2_exit
FROM nested_costs AS n LEFT JOIN exit_reasons AS r ON r.reason = n.reason;

-- A run in one row: what ran, how it ended, how many exits it took.
CREATE VIEW run_summary AS
SELECT r.run_id, r.started_at, r.mode, r.image, r.options, r.cost_profile,
       r.status, r.exit_code, r.guest_status, r.instructions, r.cycles,
       r.host_ns,
       coalesce((SELECT sum(count) FROM exit_stats AS e
                 WHERE e.run_id = r.run_id), 0) AS exits,
       coalesce((SELECT sum(cycles) FROM exit_stats AS e
                 WHERE e.run_id = r.run_id), 0) AS exit_cycles
FROM runs AS r;

-- VERSION 4 BEGIN: what version 4 added. l0/record/db.c upgrades a
-- version-3 file by running this part alone, from here to VERSION 5.
DROP VIEW IF EXISTS trace_l2_exits;

-- The region of interest a guest marked (CPUID 0x4FFFFFFB, docs/exit-stats.md):
-- the run's totals between the marks, summed over its regions. A run
-- that never marked has no row here and none in the two tables below.
CREATE TABLE roi (
    run_id        INTEGER PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    regions       INTEGER NOT NULL CHECK (regions >= 0),
    ended_by_run  INTEGER NOT NULL CHECK (ended_by_run IN (0, 1)),
    marks_refused INTEGER NOT NULL CHECK (marks_refused >= 0),
    instructions  INTEGER NOT NULL CHECK (instructions >= 0),
    cycles        INTEGER NOT NULL CHECK (cycles >= 0),
    host_ns       INTEGER NOT NULL CHECK (host_ns >= 0)
);

-- exit_stats and nested_costs of the region of interest alone.
CREATE TABLE roi_exit_stats (
    run_id        INTEGER NOT NULL REFERENCES roi (run_id) ON DELETE CASCADE,
    handler_level INTEGER NOT NULL CHECK (handler_level IN (0, 1)),
    guest_level   INTEGER NOT NULL CHECK (guest_level IN (1, 2)
                                          AND handler_level < guest_level),
    reason        INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    reason_name   TEXT NOT NULL,
    count         INTEGER NOT NULL CHECK (count > 0),
    cycles        INTEGER NOT NULL CHECK (cycles >= 0),
    host_ns       INTEGER NOT NULL CHECK (host_ns >= 0),
    PRIMARY KEY (run_id, handler_level, guest_level, reason)
) WITHOUT ROWID;

CREATE TABLE roi_nested_costs (
    run_id             INTEGER NOT NULL REFERENCES roi (run_id) ON DELETE CASCADE,
    reason             INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    l2_exits           INTEGER NOT NULL CHECK (l2_exits > 0),
    l1_exits_caused    INTEGER NOT NULL CHECK (l1_exits_caused >= 0),
    cycles_total       INTEGER NOT NULL,
    cycles_l0          INTEGER NOT NULL CHECK (cycles_l0 >= 0),
    cycles_l1          INTEGER NOT NULL CHECK (cycles_l1 >= 0),
    cycles_l2          INTEGER NOT NULL CHECK (cycles_l2 >= 0),
    cycles_transitions INTEGER NOT NULL CHECK (cycles_transitions >= 0),
    CHECK (cycles_total = cycles_l0 + cycles_l1 + cycles_l2 + cycles_transitions),
    PRIMARY KEY (run_id, reason)
) WITHOUT ROWID;

-- L0's own work inside the handling of a traced exit (turtles run --trace):
-- reflection decisions, vmcs12 <-> shadow syncs, entry checks, merges,
-- EPT02 fills, L1's trapped VMREAD/VMWRITE by field, and the VM entry
-- that ends each L2 exit's episode with the episode's total cycles.
CREATE TABLE trace_steps (
    run_id   INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL CHECK (seq >= 0),
    exit_seq INTEGER NOT NULL,   -- the exit_trace row it belongs to
    cycle    INTEGER NOT NULL CHECK (cycle >= 0),
    step     TEXT NOT NULL CHECK (step IN ('reflect', 'l0-handles',
                 'nested-exit', 'sync-to-shadow', 'sync-from-shadow',
                 'entry-checks', 'merge', 'ept02-fill', 'vmread', 'vmwrite',
                 'l2-resumes')),
    field    INTEGER,            -- VMCS field encoding (vmread, vmwrite)
    value    INTEGER,            -- 64 bits, two's complement; see docs
    cycles   INTEGER NOT NULL CHECK (cycles >= 0),
    detail   TEXT,
    PRIMARY KEY (run_id, seq),
    FOREIGN KEY (run_id, exit_seq) REFERENCES exit_trace (run_id, seq)
) WITHOUT ROWID;

-- Traced L2 exits with the L1 exits each one caused (0 when L0 handled
-- it alone), their summed cost, and episode_cycles: the whole cost of the
-- L2 exit, from the exit to the VM entry that resumes L2 (exit costs, L0's
-- charged steps and L1's instructions; the same number the timeline shows
-- and nested_costs sums). NULL when L2 was not resumed before the run ended.
CREATE VIEW trace_l2_exits AS
SELECT p.run_id, p.seq, p.reason,
       coalesce(r.name, 'UNDEFINED') AS reason_name,
       printf('%#018x', p.guest_rip) AS guest_rip_hex, p.cycle,
       p.cycles AS cycles,
       count(c.seq) AS l1_exits_caused,
       coalesce(sum(c.cycles), 0) AS l1_exit_cycles,
       (SELECT s.cycles FROM trace_steps AS s WHERE s.run_id = p.run_id
        AND s.exit_seq = p.seq AND s.step = 'l2-resumes') AS episode_cycles
FROM exit_trace AS p
LEFT JOIN exit_trace AS c ON c.run_id = p.run_id AND c.parent_seq = p.seq
LEFT JOIN exit_reasons AS r ON r.reason = p.reason
WHERE p.guest_level = 2
GROUP BY p.run_id, p.seq;

-- VERSION 5 BEGIN: what version 5 added. l0/record/db.c upgrades a
-- version-4 file by running this part alone, from here to the end.

-- nested_costs.l1_exits_caused by L1's exit reason: each L1 exit that
-- happened while an L2 exit was being handled (from the L2 exit to the VM
-- entry that resumed L2) is counted under that L2 exit's reason. L1 exits
-- outside such an episode (an L1's own setup, e.g. KVM's VMCS setup before
-- its first VM entry) are in exit_stats only. Per run, the counts of one
-- reason sum to nested_costs.l1_exits_caused of that reason.
CREATE TABLE nested_l1_exits (
    run_id    INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    reason    INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535), -- L2's
    l1_reason INTEGER NOT NULL CHECK (l1_reason BETWEEN 0 AND 65535),
    count     INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (run_id, reason, l1_reason)
) WITHOUT ROWID;
