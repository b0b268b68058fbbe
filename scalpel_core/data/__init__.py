"""Hub datasets and models (``hub``) and the chat format with the paper's system prompt (``prompts``)."""
