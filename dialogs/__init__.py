"""Multi-turn conversations (guided update, linking a channel, first-run setup)."""
