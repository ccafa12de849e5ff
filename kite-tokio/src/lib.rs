//! Kite on tokio (see issue 4).
