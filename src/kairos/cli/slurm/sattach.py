"""``sattach``: not supported, said plainly.

Slurm's sattach attaches a terminal to a running step's I/O.  In Kairos a step's output
streams to the srun that started it and nowhere else (its nodes keep no copy to replay),
so there is nothing to attach to.  The command exists so that, where Kairos's commands
stand in for Slurm's (``kairos shims``), a Slurm installation's sattach is never reached
by mistake: it says why it cannot help and what to do instead, and exits 1.
"""

from __future__ import annotations

import sys

MESSAGE = ("sattach: error: attaching to a running step is not supported by Kairos: a "
           "step's output goes to the srun that started it and is not kept elsewhere. "
           "Write it to files (srun -o/-e) and follow them (tail -f), or look at the "
           "step with sstat -j JOBID.STEP")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] in (["-V"], ["--version"]):
        from kairos import __version__

        print(f"kairos {__version__} (sattach)")
        return 0
    print(MESSAGE, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
