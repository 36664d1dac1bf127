//! Giving memory back while idle, so that an idle shim costs what it must.
//!
//! A shim spends its life waiting. What it touched while busy stays mapped:
//! - clean file pages (our text and rodata, libc's): shared page cache, but
//!   counted in every shim's RSS, fault-around (64 KiB per fault) included;
//! - free heap that malloc keeps;
//! - the main stack below where the loop waits (create/exec run deep).
//!
//! After a quiet spell the shim unmaps the clean page-cache pages of its
//! read-only file mappings — they fault back in on next use, at the cost of a
//! minor fault —, trims malloc, and releases the stack below the current
//! frame. /proc/self/pagemap tells which pages are private copies (RELRO
//! data the loader relocated) or swapped out: those are never touched, so
//! nothing written is ever dropped.

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
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let Ok(pagemap) = std::fs::File::open("/proc/self/pagemap") else {
        return;
    };
    let here = &maps as *const _ as usize;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let path = f.nth(3).unwrap_or("");
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        if path.starts_with('/') && (perms == "r-xp" || perms == "r--p") {
            drop_file_pages(&pagemap, start, end);
        } else if path == "[stack]" && here > start + STACK_KEEP && here < end {
            let top = (here - STACK_KEEP) & !(PAGE - 1);
            // SAFETY: below the current frame minus a generous margin nothing
            // on the stack is live; a later use faults in zero pages.
            unsafe { libc::madvise(start as *mut libc::c_void, top - start, libc::MADV_DONTNEED) };
        }
    }
}

const PAGE: usize = 4096;
const PM_PRESENT: u64 = 1 << 63;
const PM_SWAPPED: u64 = 1 << 62;
const PM_FILE: u64 = 1 << 61;

/// Unmaps the runs of pages of a read-only private file mapping that hold
/// nothing private: a page is skipped when it is a private copy (present
/// and not a file page: relocated RELRO data) or swapped out.
fn drop_file_pages(pagemap: &std::fs::File, start: usize, end: usize) {
    use std::os::unix::fs::FileExt;
    let n = (end - start) / PAGE;
    let mut buf = vec![0u8; n * 8];
    if pagemap
        .read_exact_at(&mut buf, (start / PAGE * 8) as u64)
        .is_err()
    {
        return;
    }
    let mut run: Option<usize> = None;
    for i in 0..=n {
        let safe = i < n && {
            let mut e = [0u8; 8];
            e.copy_from_slice(&buf[i * 8..i * 8 + 8]);
            let e = u64::from_ne_bytes(e);
            let private = e & PM_PRESENT != 0 && e & PM_FILE == 0;
            !private && e & PM_SWAPPED == 0
        };
        match (safe, run) {
            (true, None) => run = Some(i),
            (false, Some(r)) => {
                // SAFETY: every page of the run is a clean page-cache page
                // (or not present): zapping loses nothing, it faults back in.
                unsafe {
                    libc::madvise(
                        (start + r * PAGE) as *mut libc::c_void,
                        (i - r) * PAGE,
                        libc::MADV_DONTNEED,
                    )
                };
                run = None;
            }
            _ => {}
        }
    }
}
