//! The process allocator's settings for batch jobs.
//!
//! Both the service and the command line run on mimalloc (see
//! `crates/quotecast/src/main.rs`), built without transparent huge pages
//! (the workspace's `no_thp` feature): on the 2-core VM the forecast job
//! with history spent 19–21 s of its 41–43 s in the kernel zeroing huge
//! pages at first touch (8 s with small pages, the job 5 s shorter).
//!
//! A batch job (a forecast, backtest or plan on the command line, or a
//! benchmark) frees and allocates gigabytes between its steps. By default
//! mimalloc hands freed memory back to the kernel after a second, and
//! every later step faults it in again, zeroed: 4.4–5.1 million page
//! faults and 8–10 s of system time for the job above. A process that
//! ends with its job keeps what it freed instead ([`keep_freed_memory`]):
//! 1.2 million faults, 2.2–2.5 s of system time, the job 10 % faster, at a
//! peak 0.5–0.7 GiB higher. The service keeps the default, so its memory
//! shrinks again between pulls.

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, which
/// the Rust bindings do not name): milliseconds before freed memory is
/// handed back to the kernel, -1 for never.
const PURGE_DELAY: std::ffi::c_int = 15;

/// For a process that ends when its batch job does: memory freed between
/// the job's steps stays with the process for the next step.
///
/// Call it first thing in `main`, before any thread starts (mimalloc's
/// options are not thread safe).
pub fn keep_freed_memory() {
    // SAFETY: mi_option_set stores an option's value; PURGE_DELAY is an
    // option that takes any integer (checked by the test below against the
    // bundled mimalloc's default).
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_mimallocs_purge_delay_and_batch_jobs_never_purge() {
        // The bundled mimalloc's documented default for purge_delay: if the
        // enum moved in an upgrade, this option would be another one.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads an option's value.
            assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 1000);
        }
        keep_freed_memory();
        // SAFETY: as above.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, -1);
    }
}
