//! `Idle`: what earlier calls left (engines' caches, scratch space) for the next ones.
//!
//! The regex engines' own pools key their caches by thread, and the engine's front runs on
//! threads it starts for each part: each new thread would get cold caches, whose lazy DFAs
//! determinise their states again (`perf`: that and the pools' locks took ~6 % of the
//! task's CPU). A caller takes one value for a whole run of texts and gives it back.

use std::sync::Mutex;

pub(crate) struct Idle<T>(Mutex<Vec<T>>);

impl<T> Idle<T> {
    pub(crate) fn new() -> Self {
        Idle(Mutex::new(Vec::new()))
    }

    /// A value an earlier run gave back, or `make()`.
    pub(crate) fn take(&self, make: impl FnOnce() -> T) -> T {
        let idle = self.0.lock().map(|mut idle| idle.pop());
        idle.ok().flatten().unwrap_or_else(make)
    }

    /// Keep `value` for the next run.
    pub(crate) fn give(&self, value: T) {
        if let Ok(mut idle) = self.0.lock() {
            idle.push(value);
        }
    }
}
