//! Link the shim as a non-PIE executable: with PIE its ~400 KiB of
//! .data.rel.ro (vtables, static tables) is relocated at every start, and
//! those pages become private memory of every shim. The code is
//! position-independent either way; only the final link differs.
//!
//! The static build (opt-in: packaging/build-static.sh) is linked by rustc
//! as a static PIE; `-no-pie` alone on top of that yields a binary that
//! asks for a dynamic loader and crashes at once, so it also gets
//! `-static`: a plain static executable.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=-no-pie");
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if features.split(',').any(|f| f == "crt-static") {
        println!("cargo:rustc-link-arg-bins=-static");
    }
}
