"""TargetStudies' state round-trips through JSON (the searcher's checkpoint: no pickle)."""

import json

from raytp.search.tpe import TargetStudies

SPACE = {"mode": {"type": "choice", "values": ["multitask", "sequential"]},
         "lr_scale": {"type": "loguniform", "low": 0.1, "high": 3.0}}
ALLOC = [{"source": "a", "target": "b", "trials": 3}, {"source": "c", "target": "b", "trials": 1},
         {"source": "b", "target": "a", "trials": 2}]


def test_state_round_trips_through_json():
    s = TargetStudies(SPACE, ALLOC, seed=3, warm={"mode": "multitask", "lr_scale": 1.0})
    for i in range(3):
        s.ask(f"k{i}")
    s.tell("k0", 0.02)
    s.tell("k1", float("nan"))  # a failed trial
    state = json.loads(json.dumps(s.to_json()))
    r = TargetStudies.from_json(state)
    assert r.next_index == s.next_index and r.turn == s.turn and r.remaining() == s.remaining() == 3
    assert r.told == s.told
    for t in s.targets:
        finished = [(tr.params, tr.value, tr.state) for tr in s.studies[t].trials if tr.state.is_finished()]
        assert [(tr.params, tr.value, tr.state) for tr in r.studies[t].trials] == finished
    assert sum(len(st.trials) for st in r.studies.values()) == 2  # the pending trial k2 is not kept
    r.tell("k2", 0.1)  # an old in-flight key is ignored, not an error
    assert r.ask("k3") is not None
