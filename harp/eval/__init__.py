"""Evaluation: metrics (the same H-PRM and simulator as training), report, `harp predict`."""
