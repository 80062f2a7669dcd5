"""Reflection memory: lessons from finished dialogues, stored with embeddings and recalled by similarity."""
