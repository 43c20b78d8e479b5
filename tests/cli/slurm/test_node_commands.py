"""The node-facing commands: ``scontrol update NodeName=``, ``scontrol show hostnames``
and ``hostlist``, ``sinfo -R`` (the peer's words and formats)."""

from __future__ import annotations

import pytest

import kairos.cli.client as client_module
from kairos.cli.slurm import scontrol, sinfo
from kairos.slurm.options import UsageError


def usage_error(argv) -> str:
    with pytest.raises(UsageError) as caught:
        scontrol.parse_args(argv)
    return str(caught.value)


def test_node_updates():
    command = scontrol.parse_args(["update", "NodeName=n[1-2]", "State=drain", "Reason=disk full"])
    assert (command.action, command.nodes) == ("update_node", ["n1", "n2"])
    assert command.updates == {"state": "DRAIN", "reason": "disk full"}
    resume = scontrol.parse_args(["update", "nodename=vm", "state=RESUME"])
    assert resume.updates == {"state": "RESUME", "reason": None}


@pytest.mark.parametrize("argv, message", [
    # the peer's words
    (["update", "NodeName=vm", "State=DRAIN"],
     "You must specify a reason when DOWNING or DRAINING a node. Request denied"),
    (["update", "NodeName=vm", "State=DOWN", "Reason= "],
     "You must specify a reason when DOWNING or DRAINING a node. Request denied"),
    (["update", "NodeName=vm", "State=FOO", "Reason=x"],
     "Invalid input: State=FOO\nRequest aborted\nValid states are: DOWN DRAIN RESUME"),
    (["update", "NodeName=vm", "Reason=x"], "slurm_update error: Invalid node state specified"),
    (["update", "NodeName=vm", "Weight=3"],
     "Update of this parameter is not supported: Weight=3\nRequest aborted"),
    (["update", "PartitionName=p", "State=DOWN"], "scontrol: error: Kairos does not update"),
])
def test_node_update_errors(argv, message):
    assert usage_error(argv).startswith(message)


def test_hostnames_and_hostlists(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_NODELIST", raising=False)
    monkeypatch.delenv("SLURM_NODELIST", raising=False)
    assert scontrol.parse_args(["show", "hostnames", "n[1-3],a"]).output == "n1\nn2\nn3\na\n"
    assert scontrol.parse_args(["show", "hostlist", "n1,n2,n3,a,n5"]).output == "n[1-3],a,n5\n"
    assert scontrol.parse_args(["show", "hostlist", "n3,n1,n1"]).output == "n[3,1,1]\n"  # the peer's
    assert scontrol.parse_args(["show", "hostlistsorted", "n3,n1,n2"]).output == "n[1-3]\n"
    assert usage_error(["show", "hostnames"]) == "scontrol: error: host list is empty"
    assert usage_error(["show", "hostnames", "a", "b"]) == "too many arguments for keyword:show"
    monkeypatch.setenv("SLURM_JOB_NODELIST", "x[01-02]")
    assert scontrol.parse_args(["show", "hostnames"]).output == "x01\nx02\n"


def test_hostnames_need_no_controller(monkeypatch, capsys):
    monkeypatch.setattr(client_module, "connect", lambda **kwargs: pytest.fail("connected"))
    assert scontrol.main(["show", "hostnames", "n[1-2]"]) == 0
    assert capsys.readouterr().out == "n1\nn2\n"


class NodeClient:
    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.updates: list[tuple] = []

    def update_node(self, name, state, reason=None):
        if self.refuse:
            raise client_module.ApiError(self.refuse, 404)
        self.updates.append((name, state, reason))
        return {"name": name}


def test_node_update_goes_to_the_controller(monkeypatch, capsys):
    fake = NodeClient()
    monkeypatch.setattr(client_module, "connect", lambda **kwargs: fake)
    assert scontrol.main(["update", "NodeName=n[1-2]", "State=DRAIN", "Reason=fan"]) == 0
    assert fake.updates == [("n1", "DRAIN", "fan"), ("n2", "DRAIN", "fan")]
    monkeypatch.setattr(client_module, "connect",
                        lambda **kwargs: NodeClient("Invalid node name specified"))
    assert scontrol.main(["update", "NodeName=nope", "State=RESUME"]) == 1
    assert capsys.readouterr().err == "slurm_update error: Invalid node name specified\n"


def test_sinfo_list_reasons(monkeypatch, capsys):
    options = sinfo.parse_args(["-R", "-l"], {})
    assert options.reasons and options.long
    nodes = [dict(name="vm", state="drain", cpus=2, reason="test reason", reason_user="root",
                  reason_time=0.0, partitions=["debug"]), dict(name="n1", state="idle", cpus=2)]

    class Client:
        def partitions(self):
            return [dict(name="debug", nodes=["vm", "n1"])]

        def nodes(self):
            return nodes

    monkeypatch.setattr(client_module, "connect", lambda **kwargs: Client())
    assert sinfo.main(["-R", "-h", "-o", "%E|%u|%N"]) == 0
    assert capsys.readouterr().out == "test reason|root|vm\n"
