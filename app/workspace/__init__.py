"""The clinician workspace: documents, drafts, previews, the gaps report and review digests."""
