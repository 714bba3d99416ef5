"""A one-node Slurm cluster on localhost for tests: munged with its own
key and socket, slurmctld and slurmd with their own configuration, state
and ports, all under one temporary directory, stopped by their process
ids. Nothing of the system's own munge or Slurm set-up is used or
touched. Needs root (slurmd runs jobs as their user) and Debian's
slurm-wlm and munge."""

import os
import shutil
import signal
import socket
import subprocess
import time

DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")
CLIENTS = ("sbatch", "sinfo")

CONF = """ClusterName=turtlestest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge.sock
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MinJobAge=60
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=turtles Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def missing():
    """Why a local cluster cannot start here, or None."""
    if os.geteuid() != 0:
        return "not root (slurmd must run jobs as their user)"
    absent = [d for d in DAEMONS if not os.access(d, os.X_OK)] + \
        [c for c in CLIENTS if not shutil.which(c)]
    if absent:
        return "not installed: " + ", ".join(absent) + \
            " (Debian's slurm-wlm and munge)"
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, directory):
        self.dir = directory
        self.conf = os.path.join(directory, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)

    def _path(self, name):
        return os.path.join(self.dir, name)

    def start(self, timeout=60):
        for d in ("state", "spool"):
            os.makedirs(self._path(d), exist_ok=True)
        with open(self._path("munge.key"), "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(self._path("munge.key"), 0o600)
        subprocess.run(["/usr/sbin/munged", "--force",
                        "--key-file", self._path("munge.key"),
                        "--socket", self._path("munge.sock"),
                        "--pid-file", self._path("munged.pid"),
                        "--log-file", self._path("munged.log"),
                        "--seed-file", self._path("munge.seed")],
                       check=True, capture_output=True)
        ctld, slurmd = _free_port(), _free_port()
        with open(self.conf, "w") as f:
            f.write(CONF.format(host=socket.gethostname().split(".")[0],
                                ctld_port=ctld, slurmd_port=slurmd,
                                dir=self.dir, cpus=os.cpu_count()))
        for daemon in ("/usr/sbin/slurmctld", "/usr/sbin/slurmd"):
            subprocess.run([daemon, "-f", self.conf], check=True,
                           capture_output=True, env=self.env)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            p = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env,
                               capture_output=True, text=True)
            if p.stdout.strip() == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError("the local Slurm node did not become idle: "
                           + self.log_tail())

    def log_tail(self):
        out = []
        for name in ("slurmctld.log", "slurmd.log", "munged.log"):
            try:
                with open(self._path(name)) as f:
                    out.append(f"{name}: " + " | ".join(
                        f.read().splitlines()[-3:]))
            except OSError:
                pass
        return "; ".join(out)

    def stop(self):
        """Ends the three daemons this cluster started, by their pids."""
        for name in ("slurmd.pid", "slurmctld.pid", "munged.pid"):
            try:
                with open(self._path(name)) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
