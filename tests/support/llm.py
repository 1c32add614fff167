"""The API keys the OpenAI and Anthropic fakes (tests/fixtures/fakes.py) accept."""

OPENAI_KEY = "sk-openai-test"
ANTHROPIC_KEY = "sk-ant-test"
