"""Training on TRL: SFT (LoRA or full) and GRPO with H-PRM rewards and FTCA token advantages."""
