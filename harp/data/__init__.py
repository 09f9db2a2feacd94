"""Data: records on disk, the synthetic tabletop world, the teacher VLM client, the split."""
