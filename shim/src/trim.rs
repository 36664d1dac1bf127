//! Giving memory back while idle, so that an idle shim costs what it must.
//!
//! A shim spends its life waiting. What it touched while busy stays mapped:
//! - clean file pages (our text and rodata, libc's): shared page cache, but
//!   counted in every shim's RSS, fault-around (64 KiB per fault) included;
//! - free heap that malloc keeps;
//! - the main stack below where the loop waits (create/exec run deep).
//!
//! After a quiet spell the shim unmaps the clean file pages of read-only
//! mappings that have no private (copy-on-write) page — they fault back in
//! from the page cache on next use, at the cost of a minor fault —, trims
//! malloc, and releases the stack below the current frame. Only mappings
//! without a private page are touched: RELRO segments, whose relocated
//! pages are private, are left alone, so nothing written is ever dropped.

use tokio::sync::Notify;

/// Signalled by every request and reap: the main loop (re)arms its trim
/// timer. Idle, the shim does not wake up at all (a periodic tick would
/// fault code back in, 64 KiB of fault-around at a time).
pub static ACTIVITY: Notify = Notify::const_new();

pub fn touch() {
    ACTIVITY.notify_one();
}

/// Keep this much stack below the current frame.
const STACK_KEEP: usize = 16 * 1024;

pub fn trim() {
    // SAFETY: malloc_trim is safe to call at any time.
    unsafe { libc::malloc_trim(0) };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let here = &smaps as *const _ as usize;
    let mut cur: Option<(usize, usize, bool, bool)> = None; // start, end, file+ro, stack
    let flush = |m: Option<(usize, usize, bool, bool)>, anon: u64| {
        let Some((start, end, ro_file, stack)) = m else {
            return;
        };
        if ro_file && anon == 0 {
            // SAFETY: a read-only private file mapping without private pages:
            // zapping it loses nothing, pages come back from the page cache.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        } else if stack && here > start + STACK_KEEP && here < end {
            let top = (here - STACK_KEEP) & !4095;
            if top > start {
                // SAFETY: below the current frame minus a generous margin
                // nothing on the stack is live; a later use faults in zeros.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, top - start, libc::MADV_DONTNEED)
                };
            }
        }
    };
    let mut anon = 0u64;
    for line in smaps.lines() {
        if let Some(v) = line.strip_prefix("Anonymous:") {
            anon = v
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(u64::MAX);
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        // A mapping header: flush the previous mapping.
        flush(cur.take(), anon);
        anon = u64::MAX;
        let path = f.nth(3).unwrap_or("");
        let ro_file = path.starts_with('/')
            && perms.len() == 4
            && !perms.contains('w')
            && perms.ends_with('p');
        cur = Some((a, b, ro_file, path == "[stack]"));
    }
    flush(cur.take(), anon);
}
