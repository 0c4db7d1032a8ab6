"""What a generation is made of: model families and their prompt formats,
vocabularies, the request, result and backend types, and the repetition guard."""
