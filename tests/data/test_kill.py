"""Kill test: `python data_build.py` killed with SIGKILL at several points, then finished, holds
every image exactly once, loses nothing, and never writes the key."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NUM_IMAGES = 30


def lines(path):
    return Path(path).read_text().splitlines() if Path(path).exists() else []


def start_build(tmp_path, url, key):
    env = dict(os.environ, OPENROUTER_API_KEY=key)
    command = [
        sys.executable,
        str(REPO / "data_build.py"),
        "--base-url",
        url,
        "--images-dir",
        "bdv2",
        "--output-dir",
        "out",
        "--task-model",
        "fake/proposer",
        "--plan-model",
        "fake/planner",
        "--prompts-dir",
        str(REPO / "prompts"),
        "--concurrency",
        "3",
        "--quiet",
    ]
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_killed_runs_resume_without_duplicates_or_losses(tmp_path, fake_teacher, fakes):
    for i in range(NUM_IMAGES):
        fakes.write_test_image(tmp_path / "bdv2" / f"scene_{i:03d}_0.png", i)
    server = fake_teacher(fakes.smart_handler(delay=0.05, invalid_every=5))
    out = tmp_path / "out"

    # Kill after 0 (during start-up), 4, 11 and 19 finished images: a kill lands wherever the
    # workers are, mid-request or mid-write.
    for threshold in (0, 4, 11, 19):
        process = start_build(tmp_path, server.url, fakes.SECRET_KEY)
        deadline = time.monotonic() + 60
        while len(lines(out / "processed" / "processed_images.txt")) < threshold and process.poll() is None:
            assert time.monotonic() < deadline, "build made no progress"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, process.stderr.read()
        assert len(set(lines(out / "processed" / "processed_images.txt"))) < NUM_IMAGES  # killed mid-run

    process = start_build(tmp_path, server.url, fakes.SECRET_KEY)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr

    everything = {f"./bdv2/scene_{i:03d}_0.png" for i in range(NUM_IMAGES)}
    accepted = [json.loads(line)["image"] for line in lines(out / "actions.jsonl")]
    rejected = [json.loads(line)["image"] for line in lines(out / "rejected.jsonl")]
    tasks = [json.loads(line)["image"] for line in lines(out / "tasks.jsonl")]
    processed = lines(out / "processed" / "processed_images.txt")
    # every image exactly once, accepted or rejected; each invalid_every-th one rejected
    assert len(accepted) + len(rejected) == NUM_IMAGES
    assert set(accepted) | set(rejected) == everything
    assert set(rejected) == {f"./bdv2/scene_{i:03d}_0.png" for i in range(4, NUM_IMAGES, 5)}
    assert sorted(processed) == sorted(everything)
    assert sorted(tasks) == sorted(everything)  # one proposal per image, never asked twice
    proposals = [r for r in server.requests if r["payload"]["model"] == "fake/proposer"]
    assert len(proposals) <= NUM_IMAGES + 3 * 4  # at most the in-flight ones were asked again
    assert "accepted: " in stdout
    for path in out.rglob("*"):
        if path.is_file():
            assert fakes.SECRET_KEY not in path.read_text()
    assert fakes.SECRET_KEY not in stdout + stderr
