"""What squeue, sacct, sinfo, scontrol, sstat, sprio and sshare print, the way Slurm
22.05 prints it.

Scripts written for Slurm parse these outputs (``squeue -h -o %i``, ``sacct -P -n -o
JobID,State``, ``scontrol show job 12 | grep JobState``), so the Kairos commands must
print the same headers, column widths, state codes and time notations.  Everything was
checked against a real Slurm 22.05 (squeue, sinfo, scontrol, sacct on its job-completion
log); where Kairos differs, the module of that command says so.  The functions are pure:
jobs come in as ``kairos.model.LiveJob`` records, nodes, partitions, priorities and
shares as the JSON dicts the controller sends (see ``docs/live.md``), made into records
at the boundary; they return text, and the current time is an argument.

One module per idea, so that a command imports only what it prints:

* ``notation``: how single values are written (clock times, sizes, exit codes, GPUs);
* ``columns``: the ``%``-format language of squeue, sinfo and sprio, and how a column
  is cut and padded;
* ``states``: job states on the command line (``-t pd,R``);
* ``jobs``: what several commands show of a job (``JobLine``: one job, or the pending
  tasks of an array on one line; elapsed time, TRES);
* ``records``: the node, partition, priority and share records the controller sends;
* ``squeue``, ``sacct``, ``sinfo``, ``scontrol``, ``sstat``, ``sprio``, ``sshare``: one
  command's tables and records, with its default formats.

Nothing is imported here: the commands import the modules they need.
"""
