//! Stamping a template many times costs one mapping and no recompilation;
//! accounting returns to its baseline when the code is dropped. (One test in
//! its own binary, so the process-wide counters are ours alone.)
#![cfg(target_arch = "x86_64")]

use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_environ::{RelocKind, RelocTarget, Relocation};
use springboard_loader::{CodeItem, CodeMemory, Error, stats};

/// `movabs rax, <callee>; ret`: returns the address patched into it.
const TEMPLATE: [u8; 11] = [0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3];
const HOLE: Relocation = Relocation {
    offset: 2,
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
            code: &TEMPLATE,
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
        199 * 16 + TEMPLATE.len(),
        "packed at 16-byte steps"
    );
    assert!(
        memory.mapped_bytes()
            <= memory
                .used_bytes()
                .next_multiple_of(springboard_loader::page_size())
    );
    for (i, callee) in callees.iter().enumerate() {
        // SAFETY: each copy is `movabs rax, imm64; ret`, a complete function.
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
        code: &TEMPLATE,
        relocations: &[HOLE],
        align: 1,
        callee: None,
        name: None,
    };
    assert!(matches!(
        CodeMemory::new(&[no_callee]),
        Err(Error::MissingCallee { index: 0 })
    ));
    let outside = Relocation { offset: 4, ..HOLE };
    let item = CodeItem {
        code: &TEMPLATE,
        relocations: &[outside],
        align: 1,
        callee: Some(callees[0]),
        name: None,
    };
    assert!(matches!(
        CodeMemory::new(&[item]),
        Err(Error::RelocationOutOfBounds {
            index: 0,
            offset: 4
        })
    ));
    let item = CodeItem {
        code: &TEMPLATE,
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
