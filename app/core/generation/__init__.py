"""What a generation is made of: model families and their prompt formats, vocabularies, the request and result types, and the repetition guard."""
