"""A real single-node Slurm for the tests: munged + slurmctld + slurmd from Debian's packages, private ports.

Follows ../shared/notes/slurm-single-node.md: munged must run as the `munge` user with its folders owned by
it; the daemons run as root; clients find the cluster through SLURM_CONF. Ports are picked free at start so
a Slurm already on the machine is left alone. Fake GPUs (gres.conf over empty files) make `--gres gpu:1`
schedulable without a device; `config_overrides` lets the node claim more CPUs than the machine has, so
sleeping tasks (a student's hang) do not hold the cores the others need. MaxArraySize is small on purpose, so a batch of 6 needs two arrays.

    python tests/cluster/slurm_cluster.py DIR   # start one by hand; prints `export SLURM_CONF=...`
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
INSTALL_HINT = "apt-get install slurm-wlm munge"
MUNGE_DIRS = ("/run/munge", "/var/log/munge", "/var/lib/munge", "/etc/munge")
MUNGE_PID = Path("/run/munge/munged.pid")

CONF = """\
ClusterName=gradertest
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ReturnToService=2
MpiDefault=none
MaxArraySize={max_array}
MinJobAge=600
KillWait=5
SchedulerParameters=sched_interval=2
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} Gres=gpu:{gpus} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def missing_binaries() -> list[str]:
    return [d for d in (*DAEMONS, "sbatch", "squeue", "scancel") if not shutil.which(d)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def munge_works() -> bool:
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        return cred.returncode == 0 and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True,
                                                       timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start_munge() -> bool:
    """Pitfall 1 of the notes: munged refuses root and root-owned folders. True if this call started it."""
    if munge_works():
        return False
    for d in MUNGE_DIRS:
        Path(d).mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
    deadline = time.monotonic() + 20
    while not munge_works():
        if time.monotonic() > deadline:
            raise RuntimeError("munged started but munge -n | unmunge still fails")
        time.sleep(0.3)
    return True


@dataclass
class SlurmCluster:
    folder: Path
    conf: Path
    started_munge: bool = False

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, check=check, env={**os.environ, **self.env})

    def stop(self) -> None:
        """Stop the daemons this cluster started, by the PIDs in their pid files (munged only if started here)."""
        pid_files = [self.folder / "slurmd.pid", self.folder / "slurmctld.pid"]
        for pid_file in pid_files + ([MUNGE_PID] if self.started_munge else []):
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass


def start(folder: Path, cpus: int = 3, gpus: int = 3, max_array: int = 4, mem_mb: int = 16000) -> SlurmCluster:
    folder = Path(folder).resolve()
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(gpus):
        (folder / f"fakegpu{i}").touch()
    conf = folder / "slurm.conf"
    conf.write_text(CONF.format(dir=folder, ctld_port=_free_port(), d_port=_free_port(), max_array=max_array,
                                cpus=cpus, gpus=gpus, mem_mb=mem_mb))
    (folder / "gres.conf").write_text(f"NodeName=localhost Name=gpu File={folder}/fakegpu[0-{gpus - 1}]\n")
    cluster = SlurmCluster(folder, conf, started_munge=start_munge())
    subprocess.run(["slurmctld", "-f", str(conf)], check=True)
    subprocess.run(["slurmd", "-f", str(conf), "-N", "localhost"], check=True)
    deadline = time.monotonic() + 60
    while True:
        state = cluster.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.strip()
        if state in ("idle", "mixed", "allocated"):
            return cluster
        if time.monotonic() > deadline:
            logs = "\n".join((folder / f).read_text()[-1500:] for f in ("slurmctld.log", "slurmd.log")
                             if (folder / f).is_file())
            cluster.stop()
            raise RuntimeError(f"the test Slurm node never became idle (sinfo says {state!r}):\n{logs}")
        time.sleep(0.5)


if __name__ == "__main__":
    c = start(Path(sys.argv[1]))
    print(f"export SLURM_CONF={c.conf}")
