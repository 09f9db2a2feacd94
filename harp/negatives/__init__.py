"""Negative samples: sampled from the SFT model or perturbed from the reference, verified by H-PRM."""
