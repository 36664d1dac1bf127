//! Link the shim as a non-PIE executable: with PIE the dynamic loader
//! relocates ~400 KiB of .data.rel.ro (vtables, static tables) at every
//! start, and those pages become private memory of every shim. The code is
//! position-independent either way; only the final link differs.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
