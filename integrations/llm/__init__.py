"""LLM providers (OpenAI, Anthropic, OpenRouter) behind one failover router, embeddings, prompts, grounding.

Import the pieces from their modules (``integrations.llm.router`` etc.); nothing is built at import time.
"""
