"""The conversation: one turn from question to reply, its events, replies, composers and memory."""
