//! -ENOSYS for syscalls newer than the container's seccomp profile.
//!
//! A profile lists the syscalls it knows; anything else gets its default
//! action. When that default is an errno (EPERM, typically), a syscall
//! added to the kernel after the profile was written fails with EPERM, and
//! glibc takes it as a real refusal instead of falling back to the older
//! call (clone3 → clone). runc (libcontainer/seccomp/patchbpf) therefore
//! answers ENOSYS for any syscall numbered above the highest one the
//! profile names, per architecture. rcrun does the same with a second,
//! small filter loaded right after the profile's:
//! - for a syscall above the profile's highest (on an architecture the
//!   profile covers) it returns ERRNO(ENOSYS), otherwise ALLOW;
//! - the kernel runs every filter and takes the strictest action; between
//!   two errnos, the one of the newest filter. So ENOSYS replaces the
//!   profile's default errno, ALLOW defers to the profile, and the profile
//!   stays in force for everything (nothing is ever more permissive).
//!
//! Differences from runc's patched single filter: a profile whose default
//! action kills or traps still kills or traps (KILL outranks ERRNO); and
//! the stub is loaded only when the profile lets `seccomp(2)` through
//! (otherwise the profile's errno stays, as before).

use libseccomp::{ScmpArch, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction};

/// One classic BPF instruction (`struct sock_filter`).
pub type Insn = libc::sock_filter;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

/// x32 syscalls run as AUDIT_ARCH_X86_64 with this bit in the number.
const X32_BIT: u32 = 0x4000_0000;

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// The highest syscall number the profile names on one kernel
/// architecture: for x86_64, native and x32 numbers are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Highest {
    pub audit_arch: u32,
    pub native: Option<u32>,
    pub x32: Option<u32>,
}

/// The stub for `seccomp`, or None when none applies: the default action
/// lets unknown syscalls run (allow, log, trace: runc adds nothing
/// either), already says ENOSYS, or no architecture has a named syscall.
pub fn stub_for(seccomp: &LinuxSeccomp) -> Option<Vec<Insn>> {
    let errno_default = seccomp.default_action() == LinuxSeccompAction::ScmpActErrno;
    if !errno_default || seccomp.default_errno_ret() == Some(libc::ENOSYS as u32) {
        return None;
    }
    let highest = highest_per_arch(seccomp);
    if highest.is_empty() {
        return None;
    }
    program(&highest)
}

/// The architectures the filter covers (the listed ones and the native
/// one, which libseccomp always adds), with their highest named syscall.
/// Architectures this table does not know get no stub (their profile's
/// default stays).
fn highest_per_arch(seccomp: &LinuxSeccomp) -> Vec<Highest> {
    let mut archs: Vec<Arch> = seccomp.architectures().clone().unwrap_or_default();
    archs.push(Arch::ScmpArchNative);
    let names: Vec<&String> = seccomp
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names())
        .collect();
    let mut out: Vec<Highest> = Vec::new();
    for arch in archs {
        let Some((scmp, audit, x32)) = kernel_arch(arch) else {
            continue;
        };
        let max = names
            .iter()
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, scmp).ok())
            .map(|s| s.as_raw_syscall())
            .filter(|&nr| nr >= 0)
            .max()
            .map(|nr| nr as u32);
        let Some(max) = max else { continue };
        let entry = match out.iter_mut().find(|h| h.audit_arch == audit) {
            Some(e) => e,
            None => {
                out.push(Highest {
                    audit_arch: audit,
                    native: None,
                    x32: None,
                });
                out.last_mut().expect("just pushed")
            }
        };
        if x32 {
            entry.x32 = Some(max);
        } else {
            entry.native = Some(max);
        }
    }
    out
}

/// libseccomp's architecture, the kernel's AUDIT_ARCH_ value and whether
/// it is x32, for the architectures rcrun makes a stub for.
fn kernel_arch(arch: Arch) -> Option<(ScmpArch, u32, bool)> {
    let arch = match arch {
        Arch::ScmpArchNative if cfg!(target_arch = "x86_64") => Arch::ScmpArchX86_64,
        Arch::ScmpArchNative if cfg!(target_arch = "aarch64") => Arch::ScmpArchAarch64,
        a => a,
    };
    match arch {
        Arch::ScmpArchX86_64 => Some((ScmpArch::X8664, AUDIT_ARCH_X86_64, false)),
        Arch::ScmpArchX32 => Some((ScmpArch::X32, AUDIT_ARCH_X86_64, true)),
        Arch::ScmpArchX86 => Some((ScmpArch::X86, AUDIT_ARCH_I386, false)),
        Arch::ScmpArchAarch64 => Some((ScmpArch::Aarch64, AUDIT_ARCH_AARCH64, false)),
        Arch::ScmpArchArm => Some((ScmpArch::Arm, AUDIT_ARCH_ARM, false)),
        _ => None,
    }
}

/// A jump target while the program is assembled.
#[derive(Clone, Copy)]
enum To {
    Next,
    /// The instruction after the next.
    OverOne,
    Enosys,
    Allow,
    Section(usize),
}

struct Asm {
    code: Vec<(u16, u32, To, To)>,
    sections: Vec<usize>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.code.push((code, k, jt, jf));
    }

    /// Resolves the targets: ENOSYS and ALLOW are the last two
    /// instructions. None if a jump does not fit in 8 bits (never for the
    /// handful of architectures above).
    fn finish(mut self) -> Option<Vec<Insn>> {
        let enosys = self.code.len();
        self.op(RET_K, RET_ENOSYS, To::Next, To::Next);
        self.op(RET_K, RET_ALLOW, To::Next, To::Next);
        let target = |t: To, at: usize| -> Option<u8> {
            let abs = match t {
                To::Next => at + 1,
                To::OverOne => at + 2,
                To::Enosys => enosys,
                To::Allow => enosys + 1,
                To::Section(i) => *self.sections.get(i)?,
            };
            u8::try_from(abs.checked_sub(at + 1)?).ok()
        };
        self.code
            .iter()
            .enumerate()
            .map(|(at, &(code, k, jt, jf))| {
                Some(Insn {
                    code,
                    jt: target(jt, at)?,
                    jf: target(jf, at)?,
                    k,
                })
            })
            .collect()
    }
}

/// The stub: a jump table on the architecture, then per architecture
/// "number above the highest → ENOSYS, else ALLOW".
pub fn program(highest: &[Highest]) -> Option<Vec<Insn>> {
    let mut a = Asm {
        code: Vec::new(),
        sections: Vec::new(),
    };
    a.op(LD_W_ABS, DATA_ARCH, To::Next, To::Next);
    for (i, h) in highest.iter().enumerate() {
        a.op(JEQ_K, h.audit_arch, To::Section(i), To::Next);
    }
    a.op(RET_K, RET_ALLOW, To::Next, To::Next);
    for h in highest {
        a.sections.push(a.code.len());
        a.op(LD_W_ABS, DATA_NR, To::Next, To::Next);
        let is_x86_64 = h.audit_arch == AUDIT_ARCH_X86_64;
        match (h.native, h.x32) {
            (Some(n), Some(x)) => {
                // x32 numbers (bit 30 set) are compared with x32's highest.
                a.op(JSET_K, X32_BIT, To::OverOne, To::Next);
                a.op(JGT_K, n, To::Enosys, To::Allow);
                a.op(JGT_K, x, To::Enosys, To::Allow);
            }
            (Some(n), None) => {
                if is_x86_64 {
                    // An x32 call where only x86_64 is covered: the profile decides.
                    a.op(JSET_K, X32_BIT, To::Allow, To::Next);
                }
                a.op(JGT_K, n, To::Enosys, To::Allow);
            }
            (None, Some(x)) => {
                a.op(JSET_K, X32_BIT, To::Next, To::Allow);
                a.op(JGT_K, x, To::Enosys, To::Allow);
            }
            (None, None) => a.op(RET_K, RET_ALLOW, To::Next, To::Next),
        }
    }
    a.finish()
}

/// Loads `prog` as a filter of this thread, after (so above) the
/// profile's. Through seccomp(2), or prctl when the profile refuses that.
pub fn load(prog: &[Insn]) -> Result<(), nix::Error> {
    let len = u16::try_from(prog.len()).map_err(|_| nix::Error::E2BIG)?;
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr() as *mut Insn,
    };
    let ptr = &fprog as *const libc::sock_fprog;
    // SAFETY: fprog and the instructions it points to outlive the call;
    // the kernel copies the program.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, ptr) };
    if r == 0 {
        return Ok(());
    }
    // SAFETY: as above.
    let r = unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, ptr, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel would answer: runs `prog` on one syscall.
    fn run(prog: &[Insn], arch: u32, nr: u32) -> u32 {
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = prog[pc];
            let taken = match i.code {
                LD_W_ABS => {
                    acc = if i.k == DATA_NR { nr } else { arch };
                    pc += 1;
                    continue;
                }
                RET_K => return i.k,
                JEQ_K => acc == i.k,
                JGT_K => acc > i.k,
                JSET_K => acc & i.k != 0,
                c => panic!("unexpected opcode {c:#x}"),
            };
            pc += 1 + usize::from(if taken { i.jt } else { i.jf });
        }
    }

    fn x86_64(native: Option<u32>, x32: Option<u32>) -> Highest {
        Highest {
            audit_arch: AUDIT_ARCH_X86_64,
            native,
            x32,
        }
    }

    #[test]
    fn above_the_highest_is_enosys_on_that_arch_only() {
        let p = program(&[x86_64(Some(334), None)]).expect("fits");
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 335), RET_ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 435), RET_ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 334), RET_ALLOW);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 0), RET_ALLOW);
        // x32 is not covered: the profile decides (its bad-arch action).
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_BIT | 500), RET_ALLOW);
        assert_eq!(run(&p, AUDIT_ARCH_I386, 1000), RET_ALLOW);
    }

    #[test]
    fn x86_64_and_x32_each_have_their_highest() {
        let i386 = Highest {
            audit_arch: AUDIT_ARCH_I386,
            native: Some(400),
            x32: None,
        };
        let p = program(&[x86_64(Some(334), Some(X32_BIT | 547)), i386]).expect("fits");
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_BIT | 548), RET_ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_BIT | 10), RET_ALLOW);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 400), RET_ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 334), RET_ALLOW);
        assert_eq!(run(&p, AUDIT_ARCH_I386, 401), RET_ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_I386, 400), RET_ALLOW);
        let only_x32 = program(&[x86_64(None, Some(X32_BIT | 100))]).expect("fits");
        assert_eq!(run(&only_x32, AUDIT_ARCH_X86_64, X32_BIT | 101), RET_ENOSYS);
        assert_eq!(run(&only_x32, AUDIT_ARCH_X86_64, 1000), RET_ALLOW);
    }

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).expect("valid profile")
    }

    #[test]
    fn only_errno_defaults_other_than_enosys_get_a_stub() {
        let names =
            r#""syscalls":[{"names":["read","write","clone","mkdir"],"action":"SCMP_ACT_ALLOW"}]"#;
        for (default, want) in [
            (r#""defaultAction":"SCMP_ACT_ALLOW""#, false),
            (r#""defaultAction":"SCMP_ACT_LOG""#, false),
            (r#""defaultAction":"SCMP_ACT_KILL""#, false),
            (
                r#""defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38"#,
                false,
            ),
            (r#""defaultAction":"SCMP_ACT_ERRNO""#, true),
            (
                r#""defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1"#,
                true,
            ),
        ] {
            let p = profile(&format!("{{{default},{names}}}"));
            assert_eq!(stub_for(&p).is_some(), want, "{default}");
        }
        let empty = profile(r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#);
        assert!(stub_for(&empty).is_none());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn highest_named_syscall_per_arch_from_libseccomp() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{"names":["read","mkdir","clone","no_such_call"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let h = highest_per_arch(&p);
        // x86_64: clone 56, mkdir 83; i386: clone 120, mkdir 39; x32: mkdir.
        assert_eq!(h[0], x86_64(Some(83), Some(X32_BIT | 83)));
        assert_eq!(h[1].audit_arch, AUDIT_ARCH_I386);
        assert_eq!(h[1].native, Some(120));
        let stub = stub_for(&p).expect("a stub");
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, 435), RET_ENOSYS); // clone3
        assert_eq!(run(&stub, AUDIT_ARCH_X86_64, 56), RET_ALLOW);
    }

    /// The kernel's side: a profile answering EPERM above 100 (seccomp
    /// allowed), then the
    /// stub; in a forked child (the filters stay with it).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn kernel_takes_the_stubs_enosys_over_the_profiles_errno() {
        let eperm = 0x0005_0000 | libc::EPERM as u32;
        let ins = |code, jt, jf, k| Insn { code, jt, jf, k };
        let profile = [
            ins(LD_W_ABS, 0, 0, DATA_NR),
            ins(JEQ_K, 3, 0, 95),  // umask: named, refused
            ins(JEQ_K, 1, 0, 317), // seccomp: named, allowed
            ins(JGT_K, 1, 0, 100), // unnamed: the default errno
            ins(RET_K, 0, 0, RET_ALLOW),
            ins(RET_K, 0, 0, eperm),
        ];
        let stub = program(&[x86_64(Some(100), None)]).expect("fits");
        // SAFETY: the child only makes raw syscalls and _exits.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let errno_of = |nr: libc::c_long| {
                    // SAFETY: syscalls without pointer arguments.
                    let r = unsafe { libc::syscall(nr, 0, 0, 0) };
                    if r == -1 {
                        nix::Error::last() as i32
                    } else {
                        0
                    }
                };
                // SAFETY: plain prctl.
                let nnp = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                let ok = nnp == 0
                    && load(&profile).is_ok()
                    && load(&stub).is_ok()
                    && errno_of(110) == libc::ENOSYS // getppid, above 100
                    && errno_of(95) == libc::EPERM // umask, the profile's answer
                    && errno_of(39) == 0; // getpid
                                          // SAFETY: ends the forked child at once.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).expect("wait");
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
