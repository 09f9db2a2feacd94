"""`--out` and `--workdir` of `harp model init-tiny | pretrain`: a folder HARP did not write is refused,
never emptied; a bad path stops in one line before any work; a kill leaves the old model or the new
one; `init-tiny --grounded` checks every file of the model against its manifest, and reads it safely."""

import hashlib
import json
import re
import shutil
import tracemalloc

import pytest

from harp.cli import main
from harp.errors import DataError, HarpError
from harp.models import folder, grounded

GROUNDED = ["model", "init-tiny", "--grounded"]
RANDOM = ["model", "init-tiny"]


def contents(root):
    """Every file under `root` and its bytes, to show that nothing was touched."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def refused(argv, capsys, key="--out"):
    """Run `harp ARGV`; assert it stopped with one line naming `key`."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"error: {key}" in err, err
    return err


@pytest.fixture
def no_training(monkeypatch, tmp_path):
    """`harp model pretrain` must refuse before any work: drawing its scenes (after the base model,
    which `init-tiny` needs unpatched) fails the test. Run in tmp_path, where `--out ''` would write."""

    def started(*args, **kwargs):
        raise AssertionError("pretrain started work before checking its paths")

    monkeypatch.setattr("harp.data.synthetic.build_synthetic", started)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", [GROUNDED, RANDOM, ["model", "pretrain"]], ids=["grounded", "random", "pretrain"])
def test_a_folder_harp_did_not_write_is_refused_and_left_as_it_was(command, tmp_path, capsys, no_training):
    if command[1] == "pretrain":
        command = [*command, "--workdir", str(tmp_path / "work")]
    mine = tmp_path / "mine"
    (mine / "data").mkdir(parents=True)
    (mine / "notes.txt").write_text("a week of notes")
    (mine / "config.json").write_text('{"mine": true}')  # a model's file name, but not a model of HARP's
    (mine / "data" / "a.csv").write_text("1,2\n")
    before = contents(tmp_path)
    err = refused([*command, "--out", str(mine)], capsys)
    assert "notes.txt" in err or "data/" in err
    assert contents(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


@pytest.mark.parametrize("out", ["..", ".", "../.."])
def test_out_dot_or_a_parent_of_the_current_folder_is_refused(out, tmp_path, capsys, monkeypatch, no_training):
    here = tmp_path / "project" / "here"
    here.mkdir(parents=True)
    (tmp_path / "project" / "precious.txt").write_text("keep me")
    monkeypatch.chdir(here)
    before = contents(tmp_path)
    for command in (GROUNDED, RANDOM, ["model", "pretrain", "--workdir", str(tmp_path / "work")]):
        refused([*command, "--out", out], capsys)
    assert contents(tmp_path) == before and not (tmp_path / "work").exists()


def test_out_and_workdir_that_are_files_or_empty_stop_in_one_line_before_any_work(tmp_path, capsys, no_training):
    a_file = tmp_path / "model.bin"
    a_file.write_text("not a folder")
    for command in (GROUNDED, RANDOM, ["model", "pretrain", "--workdir", str(tmp_path / "work")]):
        for out in (str(a_file), "", " "):
            refused([*command, "--out", out], capsys)
    for workdir in (str(a_file), ""):
        refused(["model", "pretrain", "--out", str(tmp_path / "out"), "--workdir", workdir], capsys, "--workdir")
    refused(
        ["model", "pretrain", "--out", str(tmp_path / "out"), "--workdir", str(tmp_path / "out" / "work")],
        capsys,
        "--workdir",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]  # no .partial, no workdir
    assert a_file.read_text() == "not a folder"


def test_a_model_harp_wrote_is_replaced_whole_by_the_next(tmp_path, capsys):
    out = tmp_path / "model"
    assert main([*RANDOM, "--out", str(out)]) == 0
    assert main([*GROUNDED, "--out", str(out)]) == 0
    assert (out / grounded.MANIFEST).is_file()
    assert main([*RANDOM, "--out", str(out)]) == 0
    # the random model is not left beside the grounded one's manifest, which would vouch for it
    assert not (out / grounded.MANIFEST).exists() and folder.foreign_entry(out) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_saved_model_holds_only_files_the_rule_knows(tiny_model_dir):
    """Else HARP would refuse to replace its own models: a new transformers writing a new file shows here."""
    assert folder.foreign_entry(tiny_model_dir) is None
    assert set(folder.SAVED_FILES) == {p.name for p in tiny_model_dir.iterdir()}


class Killed(BaseException):
    """A SIGKILL at a given file operation: that one and every one after it fail."""


@pytest.mark.parametrize("with_old", [True, False], ids=["replacing", "new"])
def test_a_kill_at_any_step_leaves_the_old_model_or_the_new_and_the_next_run_finishes(with_old, tmp_path, monkeypatch):
    import os

    def write(into):
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            step()
            (into / name).write_text("new")

    def model(path):
        return {p.read_text() for p in path.iterdir()} if path.is_dir() else None

    steps, kill_at = [0], [None]

    def step():
        steps[0] += 1
        if kill_at[0] is not None and steps[0] >= kill_at[0]:
            raise Killed

    def dying(function):
        def wrapped(*args, **kwargs):
            step()
            return function(*args, **kwargs)

        return wrapped

    for name in ("rename", "mkdir"):
        monkeypatch.setattr(os, name, dying(getattr(os, name)))
    monkeypatch.setattr(shutil, "rmtree", dying(shutil.rmtree))
    out = tmp_path / "run" / "model"
    old = out.with_name("model.old")
    if with_old:
        out.mkdir(parents=True)
        (out / "config.json").write_text("old")
    steps[0] = 0
    folder.write_model_dir(out, write)
    total = steps[0]
    assert total >= 5
    for kill in range(1, total + 1):
        shutil.rmtree(tmp_path / "run")
        if with_old:
            out.mkdir(parents=True)
            (out / "config.json").write_text("old")
        steps[0], kill_at[0] = 0, kill
        with pytest.raises(Killed):
            folder.write_model_dir(out, write)
        kill_at[0] = None
        if with_old:  # the old model is where it was, or (killed between the swap's renames) beside it
            assert model(out) in ({"old"}, {"new"}) or (model(out) is None and model(old) == {"old"}), kill
        assert model(out) in (None, {"new"}, {"old"}), kill
        folder.write_model_dir(out, write)
        assert model(out) == {"new"} and sorted(p.name for p in out.parent.iterdir()) == ["model"], kill


@pytest.fixture
def source(tmp_path):
    """A copy of the shipped grounded model to spoil."""
    return shutil.copytree(grounded.GROUNDED_DIR, tmp_path / "source")


@pytest.mark.parametrize(
    "manifest",
    [
        b'{"sha256": {"model.safetensors": "97',  # cut short
        b"\xff\xfe{}",  # not UTF-8
        b"[1, 2]",
        b'{"sha256": ["model.safetensors"]}',
        b'{"sha256": {"../../etc/passwd": "00"}}',
        b'{"sha256": {"model.safetensors": 976}}',
        b"[" * 100_000,  # nested too deeply for json
    ],
    ids=["cut", "not-utf8", "list", "sha-list", "outside", "number", "deep"],
)
def test_a_corrupt_manifest_is_one_line_naming_it(manifest, source, tmp_path):
    (source / grounded.MANIFEST).write_bytes(manifest)
    with pytest.raises(DataError, match=re.escape(str(source / grounded.MANIFEST))) as error:
        grounded.copy_grounded(tmp_path / "out", source=source)
    assert "\n" not in str(error.value) and not (tmp_path / "out").exists()


def test_a_checkpoint_without_its_tokenizer_or_with_a_spoilt_config_is_refused_before_the_copy(source, tmp_path):
    out = tmp_path / "out"
    grounded.copy_grounded(out, source=source)
    before = contents(out)
    (source / "config.json").write_text('{"text_config": ')  # a corrupt config.json, the weights intact
    with pytest.raises(HarpError, match="config.json: missing or not the file"):
        grounded.copy_grounded(out, source=source)
    shutil.copy2(grounded.GROUNDED_DIR / "config.json", source / "config.json")
    (source / "tokenizer.json").unlink()
    with pytest.raises(HarpError, match="tokenizer.json: missing"):
        grounded.copy_grounded(out, source=source)
    # a manifest that vouches for the weights alone (as the first one did) vouches for too little
    manifest = json.loads((source / grounded.MANIFEST).read_text())
    manifest["sha256"] = {"model.safetensors": manifest["sha256"]["model.safetensors"]}
    (source / grounded.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="names no sha256 for .*tokenizer.json"):
        grounded.copy_grounded(out, source=source)
    assert contents(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out", "source"]


def test_weights_are_hashed_in_a_stream_not_read_whole(tmp_path):
    weights = tmp_path / "model.safetensors"
    size = 64 * 2**20
    with weights.open("wb") as handle:
        handle.truncate(size)  # sparse: no disk, but read whole it takes 64 MiB of memory
    tracemalloc.start()
    try:
        digest = grounded.sha256(weights)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak
    assert digest == hashlib.sha256(bytes(size)).hexdigest()
