SNAPSHOT_ASSET = "analyst_snapshot"


def run_already_published(selected_assets: set[str] | None, job_assets: set[str]) -> bool:
    """Whether a run refreshed the analysts' snapshot itself: its selection (or, with no explicit
    selection, its job's assets) includes the snapshot asset."""
    return SNAPSHOT_ASSET in (selected_assets if selected_assets is not None else job_assets)
