//! The code an idle daemon runs is linked first, together (`link/hot-code.ld`, see build.rs):
//! this fails when the linker stops getting the script or its patterns stop matching (functions
//! renamed without re-running `scripts/hot-code.sh`).

use crate::util::BIN;

/// `(name, size)` of every section of a 64-bit little-endian ELF file.
fn sections(elf: &[u8]) -> Vec<(String, u64)> {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap());
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let (shoff, shentsize, shnum, shstrndx) = (
        u64_at(0x28) as usize,
        u16_at(0x3a),
        u16_at(0x3c),
        u16_at(0x3e),
    );
    let header = |i: usize| shoff + i * shentsize;
    let names = u64_at(header(shstrndx) + 0x18) as usize;
    (0..shnum)
        .map(|i| {
            let start = names + u32_at(header(i));
            let end = start + elf[start..].iter().position(|&b| b == 0).unwrap();
            let name = String::from_utf8_lossy(&elf[start..end]).into_owned();
            (name, u64_at(header(i) + 0x20))
        })
        .collect()
}

#[test]
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
fn the_idle_daemons_code_is_linked_together_first() {
    let elf = std::fs::read(BIN).unwrap();
    let sections = sections(&elf);
    let names: Vec<&str> = sections.iter().map(|(n, _)| n.as_str()).collect();
    let hot = names.iter().position(|&n| n == ".text.hot");
    let text = names.iter().position(|&n| n == ".text");
    assert!(
        matches!((hot, text), (Some(h), Some(t)) if h < t),
        ".text.hot before .text: {names:?}"
    );
    // The release build's is ~1.3 MiB; a pattern list gone stale shrinks it.
    let size = sections[hot.unwrap()].1;
    assert!(size > 512 * 1024, ".text.hot holds only {size} bytes");
}
