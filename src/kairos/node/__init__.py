"""Running jobs on this machine for the live controller.

``facts`` says what the machine has (CPUs, memory, GPUs); ``environment`` builds the
``SLURM_*``/``KAIROS_*`` environment a job sees; ``supervisor`` is the small
standard-library process that runs one job, enforces its limits and records its end in
``status.json``, outliving a controller crash; ``agent`` starts, signals, adopts and
reaps those supervisors and owns which core ids and GPU indices each job holds.
"""
