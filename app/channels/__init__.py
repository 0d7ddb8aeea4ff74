"""The channels: HTTP routers and schemas, the voice socket, the OpenAI endpoint, pages."""
