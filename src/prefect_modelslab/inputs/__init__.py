"""What a batch reads: a prompts CSV or records, validated and named before anything is paid."""
