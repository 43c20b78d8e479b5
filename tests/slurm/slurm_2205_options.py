"""The option names of Slurm 22.05's sbatch, srun and salloc, as the peer (slurm-wlm
22.05.8) gave them: ``HELP``, the long options its ``--help`` lists; ``GETOPT``, every
long option its getopt table takes (``--help`` leaves some out), in that table's order
(each ambiguous prefix ``--a``, ``--b``... names them in it)."""

HELP = {
    "sbatch": """
account array bb bbf begin chdir cluster-constraint clusters comment constraint
container contiguous core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task
deadline delay-boot dependency distribution error exclude exclusive export export-file
extra-node-info get-user-env gid gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket
gpus-per-task gres gres-flags help hold ignore-pbs input job-name licenses mail-type
mail-user mcs-label mem mem-per-cpu mem-per-gpu mincpus nice no-kill no-requeue nodefile
nodelist nodes ntasks ntasks-per-core ntasks-per-node ntasks-per-socket output
overcommit oversubscribe parsable partition power priority profile propagate qos quiet
reboot requeue reservation signal sockets-per-node spread-job switches thread-spec
threads-per-core time time-min tmp uid usage use-min-nodes verbose version wait wckey
wrap""".split(),
    "srun": """
account acctg-freq bb bbf bcast bcast-exclude begin chdir cluster-constraint clusters
comment compress constraint container contiguous core-spec cores-per-socket cpu-freq
cpus-per-gpu cpus-per-task deadline delay-boot dependency disable-status distribution
epilog error exact exclude exclusive export extra-node-info gpu-bind gpu-freq gpus
gpus-per-node gpus-per-socket gpus-per-task gres gres-flags help het-group hold
immediate input job-name jobid kill-on-bad-exit label licenses mail-type mail-user
mcs-label mem mem-per-cpu mem-per-gpu mincpus mpi multi-prog nice no-allocate no-kill
nodelist nodes ntasks ntasks-per-core ntasks-per-node ntasks-per-socket output
overcommit overlap oversubscribe partition power preserve-env priority profile prolog
propagate pty qos quiet quit-on-interrupt reboot relative reservation resv-ports
send-libs signal slurmd-debug sockets-per-node spread-job switches task-epilog
task-prolog thread-spec threads threads-per-core time time-min tmp unbuffered usage
use-min-nodes verbose version wait wckey""".split(),
    "salloc": """
account bb bbf begin bell chdir cluster-constraint clusters comment constraint container
contiguous core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task deadline
delay-boot dependency distribution exclude exclusive extra-node-info get-user-env gid
gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket gpus-per-task gres gres-flags help
hold immediate job-name kill-command licenses mail-type mail-user mcs-label mem
mem-per-cpu mem-per-gpu mincpus nice no-bell no-kill nodefile nodelist nodes ntasks
ntasks-per-core ntasks-per-node ntasks-per-socket overcommit oversubscribe partition
power priority profile qos quiet reboot reservation signal sockets-per-node spread-job
switches thread-spec threads-per-core time time-min tmp uid usage use-min-nodes verbose
version wckey""".split(),
}

GETOPT = {
    "sbatch": """
account acctg-freq array batch begin bb bbf cluster-constraint chdir cluster clusters
comment container context contiguous constraint core-spec cores-per-socket cpu-freq
cpus-per-gpu cpus-per-task deadline delay-boot dependency distribution error exclude
exclusive export export-file extra-node-info get-user-env gid gpu-bind gpu-freq gpus
gpus-per-node gpus-per-socket gpus-per-task gres gres-flags help hint hold ignore-pbs
input job-name kill-on-invalid-dep licenses mail-type mail-user mcs-label mem mem-bind
mem-per-cpu mem-per-gpu mincpus network nice no-kill no-requeue nodefile nodelist nodes
ntasks ntasks-per-core ntasks-per-gpu ntasks-per-node ntasks-per-socket ntasks-per-tres
open-mode output overcommit oversubscribe parsable partition power prefer priority
profile propagate qos quiet reboot requeue reservation signal sockets-per-node
spread-job switches tasks-per-node test-only thread-spec threads-per-core time time-min
tmp uid use-min-nodes usage verbose version wait wait-all-nodes wckey wrap""".split(),
    "srun": """
accel-bind account acctg-freq bcast bcast-exclude begin bb bbf cluster-constraint chdir
cluster clusters comment compress container context contiguous constraint core-spec
cores-per-socket cpu-bind cpu_bind cpu-freq cpus-per-gpu cpus-per-task deadline
debugger-test delay-boot dependency disable-status distribution epilog error exact
exclude exclusive export extra-node-info gid gpu-bind gpu-freq gpus gpus-per-node
gpus-per-socket gpus-per-task gres gres-flags help het-group hint hold immediate input
interactive jobid job-name kill-on-bad-exit label licenses mail-type mail-user mcs-label
mem mem-bind mem-per-cpu mem-per-gpu mincpus mpi msg-timeout multi-prog network nice
no-allocate no-kill nodefile nodelist nodes ntasks ntasks-per-core ntasks-per-gpu
ntasks-per-node ntasks-per-socket ntasks-per-tres open-mode output overcommit overlap
oversubscribe pack-group partition power prefer preserve-env priority profile prolog
propagate pty qos quiet quit-on-interrupt reboot relative reservation resv-ports
send-libs signal slurmd-debug sockets-per-node spread-job switches threads task-epilog
task-prolog tasks-per-node test-only thread-spec threads-per-core time time-min tmp uid
unbuffered use-min-nodes usage verbose version wait wckey whole x11""".split(),
    "salloc": """
account acctg-freq begin bell bb bbf cluster-constraint chdir cluster clusters comment
container context contiguous constraint core-spec cores-per-socket cpu-freq cpus-per-gpu
cpus-per-task deadline delay-boot dependency distribution exclude exclusive
extra-node-info get-user-env gid gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket
gpus-per-task gres gres-flags help hint hold immediate job-name kill-command licenses
mail-type mail-user mcs-label mem mem-bind mem-per-cpu mem-per-gpu mincpus network nice
no-bell no-kill no-shell nodefile nodelist nodes ntasks ntasks-per-core ntasks-per-gpu
ntasks-per-node ntasks-per-socket ntasks-per-tres overcommit oversubscribe partition
power prefer priority profile qos quiet reboot reservation signal sockets-per-node
spread-job switches tasks-per-node thread-spec threads-per-core time time-min tmp uid
use-min-nodes usage verbose version wait-all-nodes wckey x11""".split(),
}
