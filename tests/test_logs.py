"""HARP's one logger: `harp: warning: ...` on stderr and notes on stdout, one line each, main process only."""

import logging


def test_warnings_and_notes_keep_the_one_line_style(capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    logger = logging.getLogger("harp.some.module")
    logger.warning("training.bf16: no bf16-capable GPU here; training in fp32")
    logger.info("SFT: 8 train / 1 val samples")
    captured = capsys.readouterr()
    assert captured.err == "harp: warning: training.bf16: no bf16-capable GPU here; training in fp32\n"
    assert captured.out == "SFT: 8 train / 1 val samples\n"


def test_only_the_main_process_prints(capsys, monkeypatch):
    logger = logging.getLogger("harp.train.grpo")
    monkeypatch.setenv("RANK", "1")  # what DeepSpeed / accelerate / torchrun give the second process
    logger.warning("seen once, from rank 0")
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("RANK", "0")
    logger.warning("seen once, from rank 0")
    assert capsys.readouterr().err == "harp: warning: seen once, from rank 0\n"
