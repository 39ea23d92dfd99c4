//! Stamping a template many times costs one mapping and no recompilation;
//! accounting returns to its baseline when the code is dropped. (One test in
//! its own binary, so the process-wide counters are ours alone.)

use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_environ::{RelocKind, RelocTarget, Relocation};
use springboard_loader::{CodeItem, CodeMemory, Error, stats};

// Per ISA, a function that returns the 8-byte literal at `HOLE_AT` (the
// address patched into it), so every copy proves its own relocation, its
// mapping and the instruction cache when called.

/// `movabs rax, <literal>; ret`.
#[cfg(target_arch = "x86_64")]
const TEMPLATE: &[u8] = &[0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3];
#[cfg(target_arch = "x86_64")]
const HOLE_AT: u32 = 2;

/// `ldr x0, #8; ret; <literal>`.
#[cfg(target_arch = "aarch64")]
const TEMPLATE: &[u8] = &[
    0x40, 0x00, 0x00, 0x58, 0xc0, 0x03, 0x5f, 0xd6, 0, 0, 0, 0, 0, 0, 0, 0,
];
#[cfg(target_arch = "aarch64")]
const HOLE_AT: u32 = 8;

/// `auipc t0, 0; ld a0, 16(t0); ret; nop; <literal>`.
#[cfg(target_arch = "riscv64")]
const TEMPLATE: &[u8] = &[
    0x97, 0x02, 0x00, 0x00, 0x03, 0xb5, 0x02, 0x01, 0x67, 0x80, 0x00, 0x00, 0x13, 0x00, 0x00, 0x00,
    0, 0, 0, 0, 0, 0, 0, 0,
];
#[cfg(target_arch = "riscv64")]
const HOLE_AT: u32 = 16;

/// `lgrl %r2, <literal>; br %r14; <literal>` (big-endian, like its hole).
#[cfg(target_arch = "s390x")]
const TEMPLATE: &[u8] = &[
    0xc4, 0x28, 0x00, 0x00, 0x00, 0x04, 0x07, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0,
];
#[cfg(target_arch = "s390x")]
const HOLE_AT: u32 = 8;

const HOLE: Relocation = Relocation {
    offset: HOLE_AT,
    kind: RelocKind::Abs8,
    target: RelocTarget::Callee,
    addend: 3,
};

#[test]
fn two_hundred_stamped_copies_share_one_mapping_and_are_freed() {
    let baseline = stats();
    let callees: Vec<NonNull<c_void>> = (1..=200usize)
        .map(|i| NonNull::new((i * 0x1000) as *mut c_void).unwrap())
        .collect();
    let items: Vec<CodeItem> = callees
        .iter()
        .map(|&c| CodeItem {
            code: TEMPLATE,
            relocations: &[HOLE],
            align: 1,
            callee: Some(c),
            name: None,
        })
        .collect();
    let memory = CodeMemory::new(&items).unwrap();
    let during = stats();
    assert_eq!(
        during.live_mappings,
        baseline.live_mappings + 1,
        "one mapping for 200 copies"
    );
    assert_eq!(during.used_bytes - baseline.used_bytes, memory.used_bytes());
    assert_eq!(
        memory.used_bytes(),
        199 * TEMPLATE.len().next_multiple_of(16) + TEMPLATE.len(),
        "packed at 16-byte steps"
    );
    assert!(
        memory.mapped_bytes()
            <= memory
                .used_bytes()
                .next_multiple_of(springboard_loader::page_size())
    );
    for (i, callee) in callees.iter().enumerate() {
        // SAFETY: each copy is `TEMPLATE`, a complete function of this ISA
        // that returns its patched literal.
        let f: extern "C" fn() -> usize =
            unsafe { core::mem::transmute(memory.entry(i).unwrap().as_ptr()) };
        assert_eq!(
            f(),
            callee.as_ptr() as usize + 3,
            "copy {i} returns its own callee + addend"
        );
    }
    assert!(memory.entry(200).is_none());
    drop(memory);
    assert_eq!(stats(), baseline);

    // Templates without a callee, holes outside the code, bad alignment and
    // empty batches are refused before anything is mapped.
    let no_callee = CodeItem {
        code: TEMPLATE,
        relocations: &[HOLE],
        align: 1,
        callee: None,
        name: None,
    };
    assert!(matches!(
        CodeMemory::new(&[no_callee]),
        Err(Error::MissingCallee { index: 0 })
    ));
    let outside = Relocation {
        offset: TEMPLATE.len() as u32 - 4,
        ..HOLE
    };
    let item = CodeItem {
        code: TEMPLATE,
        relocations: &[outside],
        align: 1,
        callee: Some(callees[0]),
        name: None,
    };
    assert!(matches!(
        CodeMemory::new(&[item]),
        Err(Error::RelocationOutOfBounds { index: 0, offset })
            if offset == TEMPLATE.len() as u32 - 4
    ));
    let item = CodeItem {
        code: TEMPLATE,
        relocations: &[],
        align: 24,
        callee: None,
        name: None,
    };
    assert!(matches!(
        CodeMemory::new(&[item]),
        Err(Error::BadAlignment {
            index: 0,
            align: 24
        })
    ));
    assert!(matches!(CodeMemory::new(&[]), Err(Error::Empty)));
    assert_eq!(stats(), baseline);
}
