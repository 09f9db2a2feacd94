"""Models: loading Qwen2.5-VL (hub id or local folder), the embedded tiny model, the chat prompt."""
