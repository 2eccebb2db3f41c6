"""The ModelsLab API client: HTTP calls, their models, retries, and file downloads.

- `api`: `ModelsLabClient` and `AsyncModelsLabClient` (submit and fetch, with the key);
- `models`: the requests, responses and `VideoJob`;
- `outcomes`: how one answer or transport failure becomes a response, a retry or an error;
- `retries`: `RetryPolicy`;
- `fetcher`: `FileFetcher`, links to one whole file in storage, never with the key.
"""
