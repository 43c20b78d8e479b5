"""Starts a supervisor: ``python -I -S <this file> <jobdir>``, as the agent does, or
``python -m kairos.node.supervisor <jobdir>`` in an environment where Kairos is installed.

Run by path in isolated mode, nothing of this tree is on ``sys.path``: the directory that
holds the ``kairos`` package is appended, after the standard library, so no module there
can hide a standard one. Without ``-I`` Python puts this file's own directory first;
it is taken out, so the package's modules are never importable as top-level names too.
"""

import os
import sys

if not __package__:  # run by path, not with -m
    _here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0] or os.curdir) == _here:
        del sys.path[0]
    sys.path.append(os.path.dirname(os.path.dirname(os.path.dirname(_here))))

from kairos.node.supervisor import main  # noqa: E402  (needs the path set above)

if __name__ == "__main__":
    sys.exit(main(sys.argv))
