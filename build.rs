//! Embeds the web UI: writes `$OUT_DIR/ui_files.rs`, a plain table of every file of the top-level
//! `ui/` directory (except `ui/test/`, the `node --test` unit tests) as
//! `(name, include_bytes!(…), etag)`, sorted by name. The ETag is a hash of the bytes, computed
//! here at compile time so the daemon computes nothing while nobody opens the UI. Pure Rust: no
//! node, no bundler. JavaScript is served without its whole-line comments (`// …`, and `/* … */`
//! on one line; the modules hold no multi-line strings, so such a line is always a comment);
//! nothing else is changed.
//!
//! Also hands the linker `link/hot-code.ld`, the functions an idle daemon runs (written by
//! `scripts/hot-code.sh`): lld places them first in `.text`, so the code a running tally keeps
//! mapped is a few contiguous pages instead of 64 KiB windows scattered over 12 MiB. Only where
//! rustc links with lld by default (x86_64 Linux, Rust ≥ 1.90); `TALLY_HOT_CODE=0` turns it off
//! for another linker. A name the binary no longer has is skipped, so a stale list costs memory,
//! never a build.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    // A directory here makes cargo rerun this script when anything below it changes.
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
    order_hot_code();
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter_map(|p| Some((p.file_name()?.to_str()?.to_string(), p)))
                .filter(|(name, _)| !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut out = String::from("&[\n");
    for (name, path) in &files {
        let mut bytes = std::fs::read(path).expect("read a ui file");
        let mut served = path.clone();
        if name.ends_with(".js") {
            bytes = without_comment_lines(&bytes);
            served = out_dir.join(format!("ui-{name}"));
            std::fs::write(&served, &bytes).expect("write a served ui file");
        }
        writeln!(
            out,
            "    ({name:?}, include_bytes!({:?}), \"\\\"{:016x}\\\"\"),",
            served.display().to_string(),
            fnv1a(&bytes)
        )
        .expect("write to a string");
    }
    out.push(']');
    let target = out_dir.join("ui_files.rs");
    std::fs::write(target, out).expect("write ui_files.rs");
}

/// Link argument for the tally binary: the hot functions first (see the top of this file).
fn order_hot_code() {
    println!("cargo:rerun-if-env-changed=TALLY_HOT_CODE");
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/hot-code.ld");
    println!("cargo:rerun-if-changed={}", list.display());
    let lld_by_default = std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    if !lld_by_default || std::env::var("TALLY_HOT_CODE").as_deref() == Ok("0") || !list.is_file() {
        return;
    }
    println!("cargo:rustc-link-arg-bin=tally=-Wl,-T,{}", list.display());
}

/// The text without the lines that hold only a comment: `// …`, or `/* … */` on one line.
fn without_comment_lines(bytes: &[u8]) -> Vec<u8> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| !is_comment_line(line.trim_ascii()))
        .flatten()
        .copied()
        .collect()
}

fn is_comment_line(line: &[u8]) -> bool {
    line.starts_with(b"//")
        || (line.len() >= 4
            && line.starts_with(b"/*")
            && line.ends_with(b"*/")
            && !line[2..line.len() - 2].windows(2).any(|w| w == b"*/"))
}

/// FNV-1a, 64 bits: enough to tell two versions of a file apart for caching.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
