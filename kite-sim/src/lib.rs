//! Deterministic cluster simulator for Kite (see issue 3).
