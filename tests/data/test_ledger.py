"""The ledger's crash repair: partial last lines are cut, finished images are known."""

import json

from harp.data.ledger import Ledger, drop_partial_tail


def test_drop_partial_tail(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2')  # killed in the middle of the second line
    assert drop_partial_tail(path)
    assert path.read_bytes() == b'{"a": 1}\n'
    assert not drop_partial_tail(path)  # complete files are left alone
    path.write_bytes(b'{"a"')
    assert drop_partial_tail(path) and path.read_bytes() == b""


def test_ledger_recovers_from_a_kill_between_record_and_processed_line(tmp_path):
    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "processed_images.txt").write_text("./bdv2/a_0.png\n./bdv2/b_")
    (tmp_path / "actions.jsonl").write_text(
        json.dumps({"image": "./bdv2/a_0.png", "task": "t", "plan": ["Pick(A)"]})
        + "\n"
        + json.dumps({"image": "./bdv2/b_0.png", "task": "t", "plan": ["Pick(B)"]})
        + "\n"
    )
    (tmp_path / "rejected.jsonl").write_text(
        json.dumps({"image": "./bdv2/c_0.png", "reason": "gave_up", "retryable": True})
        + "\n"
        + json.dumps({"image": "./bdv2/d_0.png", "reason": "bad_image"})
        + "\n"
        + '{"image": "./bdv2/e_0.png", "rea'
    )
    (tmp_path / "tasks.jsonl").write_text(json.dumps({"image": "./bdv2/f_0.png", "task": "Put f"}) + "\n")

    ledger = Ledger(tmp_path)
    ledger.close()

    # a: processed; b: accepted but its processed line was cut; d: rejected for good.
    # c: a give-up, to be retried; e: its rejection was cut short; f: only proposed.
    assert ledger.done == {"./bdv2/a_0.png", "./bdv2/b_0.png", "./bdv2/d_0.png"}
    assert ledger.tasks == {"./bdv2/f_0.png": "Put f"}
    processed = (tmp_path / "processed" / "processed_images.txt").read_text().splitlines()
    assert sorted(processed) == ["./bdv2/a_0.png", "./bdv2/b_0.png", "./bdv2/d_0.png"]
    rejected = [json.loads(line)["image"] for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert rejected == ["./bdv2/d_0.png"]
