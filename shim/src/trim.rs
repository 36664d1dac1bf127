//! Giving memory back while idle, so that an idle shim costs what it must.
//!
//! A shim spends its life waiting. What it touched while busy stays mapped:
//! - clean file pages (our text and rodata, libc's): shared page cache, but
//!   counted in every shim's RSS;
//! - free heap that malloc keeps;
//! - the main stack below where the loop waits (create/exec run deep).
//!
//! After a quiet spell the shim unmaps the clean page-cache pages of its
//! read-only file mappings — they fault back in on next use, at the cost of a
//! minor fault —, trims malloc, and releases the stack below the current
//! frame. /proc/self/pagemap tells which pages are private copies (RELRO
//! data the loader relocated) or swapped out: those are never touched, so
//! nothing written is ever dropped.
//!
//! # Order matters
//! A page of a file mapping that is touched again after it was unmapped does
//! not come back alone: the kernel maps the whole 64 KiB "fault-around"
//! window around it. So whatever runs between the first unmap and the wait
//! for the next event costs 64 KiB per distinct window of code or rodata it
//! touches. The trim therefore does all its work first — reading `maps` and
//! `pagemap`, deciding the ranges, freeing what that allocated, trimming
//! malloc — and only then unmaps, in a small function that makes the
//! `madvise` system call itself (no libc page to fault back) and whose own
//! code pages, like those of `trim`, are left mapped. Done the other way
//! round (unmapping while still parsing, freeing, reading) the parser,
//! `free`, `pread`, `close`... fault their windows back in: measured, an
//! idle shim kept ~0.4 MiB more of RSS.

use tokio::sync::Notify;

/// Signalled by every request and reap: the main loop (re)arms its trim
/// timer. Idle, the shim does not wake up at all (a periodic tick would
/// fault code back in, 64 KiB of fault-around at a time).
pub static ACTIVITY: Notify = Notify::const_new();

pub fn touch() {
    ACTIVITY.notify_one();
}

/// Keep this much stack below the frame of `trim` (what runs below it
/// afterwards, `zap`, needs a few hundred bytes).
const STACK_KEEP: usize = 8 * 1024;

const PAGE: usize = 4096;
const PM_PRESENT: u64 = 1 << 63;
const PM_SWAPPED: u64 = 1 << 62;
const PM_FILE: u64 = 1 << 61;

/// The ranges to unmap, decided before the first one is. Fixed size, on the
/// stack: unmapping must not need the allocator. Runs beyond the capacity
/// (never seen: a shim has ~15 read-only file mappings) are left mapped.
struct Plan {
    runs: [(usize, usize); 128],
    n: usize,
}

impl Plan {
    fn push(&mut self, start: usize, len: usize) {
        if len > 0 && self.n < self.runs.len() {
            self.runs[self.n] = (start, len);
            self.n += 1;
        }
    }
}

#[inline(never)]
pub fn trim() {
    let mut plan = Plan {
        runs: [(0, 0); 128],
        n: 0,
    };
    // The lowest address of this frame that must survive: the plan itself.
    let frame_low = std::ptr::addr_of!(plan) as usize;
    decide(&mut plan, frame_low);
    // Everything `decide` allocated is freed: now give free heap back.
    // SAFETY: malloc_trim is safe to call at any time.
    unsafe { libc::malloc_trim(0) };
    zap(&plan);
}

/// The code that runs after the first unmap: `zap` itself, and `trim` that
/// it returns into (neither is inlined). Their pages stay mapped (two pages
/// from the start of each: both functions are far smaller than a page).
fn keep_code() -> [(usize, usize); 2] {
    let page = |f: usize| {
        let p = f & !(PAGE - 1);
        (p, p + 2 * PAGE)
    };
    [page(trim as fn() as usize), page(zap as fn(&Plan) as usize)]
}

#[inline(never)]
fn zap(plan: &Plan) {
    for &(start, len) in &plan.runs[..plan.n] {
        // SAFETY: every range is either a run of clean page-cache pages of a
        // read-only private file mapping (zapping loses nothing: they fault
        // back in) or stack below the frame of `trim` minus a margin
        // (nothing live).
        unsafe { madvise_dontneed(start, len) };
    }
}

/// `madvise(MADV_DONTNEED)` as a bare system call: libc's wrapper sits on a
/// page of libc that would fault back in (with its 64 KiB window) right
/// after libc's text is unmapped.
///
/// # Safety
/// As madvise(2): the range must hold nothing that is needed.
#[cfg(target_arch = "x86_64")]
unsafe fn madvise_dontneed(start: usize, len: usize) {
    let _ret: isize;
    std::arch::asm!(
        "syscall",
        inlateout("rax") libc::SYS_madvise as isize => _ret,
        in("rdi") start,
        in("rsi") len,
        in("rdx") libc::MADV_DONTNEED as isize,
        lateout("rcx") _,
        lateout("r11") _,
        options(nostack),
    );
}

/// See the x86_64 version.
///
/// # Safety
/// As madvise(2): the range must hold nothing that is needed.
#[cfg(target_arch = "aarch64")]
unsafe fn madvise_dontneed(start: usize, len: usize) {
    let _ret: isize;
    std::arch::asm!(
        "svc 0",
        in("x8") libc::SYS_madvise as isize,
        inlateout("x0") start => _ret,
        in("x1") len,
        in("x2") libc::MADV_DONTNEED as isize,
        options(nostack),
    );
}

/// See the x86_64 version.
///
/// # Safety
/// As madvise(2): the range must hold nothing that is needed.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn madvise_dontneed(start: usize, len: usize) {
    libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
}

/// Fills `plan` from /proc/self/maps and /proc/self/pagemap.
#[inline(never)]
fn decide(plan: &mut Plan, frame_low: usize) {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let Ok(pagemap) = std::fs::File::open("/proc/self/pagemap") else {
        return;
    };
    let keep = keep_code();
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
            file_runs(plan, &pagemap, start, end, &keep);
        } else if path == "[stack]" && frame_low > start + STACK_KEEP && frame_low < end {
            // Below this frame minus a generous margin nothing on the stack
            // is live; a later use faults in zero pages.
            let top = (frame_low - STACK_KEEP) & !(PAGE - 1);
            plan.push(start, top - start);
        }
    }
}

/// The runs of pages of a read-only private file mapping that hold nothing
/// private: a page is skipped when it is a private copy (present and not a
/// file page: relocated RELRO data) or swapped out, or in `keep`.
fn file_runs(
    plan: &mut Plan,
    pagemap: &std::fs::File,
    start: usize,
    end: usize,
    keep: &[(usize, usize)],
) {
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
        let addr = start + i * PAGE;
        let safe = i < n && !keep.iter().any(|&(a, b)| addr >= a && addr < b) && {
            let mut e = [0u8; 8];
            e.copy_from_slice(&buf[i * 8..i * 8 + 8]);
            let e = u64::from_ne_bytes(e);
            let private = e & PM_PRESENT != 0 && e & PM_FILE == 0;
            !private && e & PM_SWAPPED == 0
        };
        match (safe, run) {
            (true, None) => run = Some(i),
            (false, Some(r)) => {
                plan.push(start + r * PAGE, (i - r) * PAGE);
                run = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_our_text_but_not_the_kept_code() {
        let mut plan = Plan {
            runs: [(0, 0); 128],
            n: 0,
        };
        let here = 0u8;
        decide(&mut plan, std::ptr::addr_of!(here) as usize);
        let runs = &plan.runs[..plan.n];
        let inside = |a: usize| runs.iter().any(|&(s, l)| a >= s && a < s + l);
        assert!(!runs.is_empty());
        // our own text is planned, the code that zaps is not
        let kept = |a: usize| keep_code().iter().any(|&(s, e)| a >= s && a < e);
        let f = plan_covers_our_text_but_not_the_kept_code as fn() as usize;
        assert!(inside(f) || kept(f));
        for (a, b) in keep_code() {
            assert!(
                !inside(a) && !inside(b - 1),
                "kept code {a:#x}-{b:#x} planned"
            );
        }
    }

    #[test]
    fn trim_loses_nothing() {
        let text: String = (0..4096u32)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let v = vec![7u64; 100_000];
        trim();
        trim();
        assert_eq!(v.iter().sum::<u64>(), 700_000);
        assert!(text.starts_with("abcdefghijklmnopqrstuvwxyzabc"));
        assert_eq!(format!("{:?}", Some(42)), "Some(42)");
    }
}
