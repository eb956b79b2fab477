"""Server engines: the same questions and consensus on an OpenAI-compatible server."""
