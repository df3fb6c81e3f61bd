from datetime import date, timedelta


def refresh_window(run_day: date, days: int) -> tuple[date, date]:
    """The inclusive partition range a daily refresh rebuilds: the `days` days before run_day."""
    if days < 1:
        raise ValueError("a refresh covers at least one day")
    return run_day - timedelta(days=days), run_day - timedelta(days=1)
