"""What a person sees of a run: Prefect artifacts, events, final run states, the HTML gallery."""
