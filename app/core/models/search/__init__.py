"""Finding GGUF models on the Hugging Face hub: search, and a repository's quantisations."""
