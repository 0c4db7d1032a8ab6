"""The Hugging Face Hub: the API client, the token, the downloader and pulling a model by name."""
