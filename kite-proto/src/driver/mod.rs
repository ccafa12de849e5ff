//! What every runtime adapter needs that involves no I/O and no async (being
//! filled in for issue 4: options, watchers, event fan-out, the shared handle).
