//! [`ResultsArea`]: where the *native* convention puts results after the first.

/// The layout of the native convention's results area: results `1..` of a
/// signature, in order, each at the next offset that is a multiple of its
/// alignment — the fields of a `#[repr(C)]` struct of them. The caller
/// passes a pointer to such an area as the last argument; the callee writes
/// there.
///
/// Each value's size and alignment are the target C ABI's for its type
/// (e.g. 16 and 16 for `v128` on x86-64, 16 and 8 on s390x); code
/// generators compute offsets with [`push`](Self::push), and Rust hosts
/// assert at compile time that their `#[repr(C)]` structs agree.
///
/// ```
/// use springboard_vm_abi::ResultsArea;
/// // Results `i32, i64, i32` after the first: offsets 0, 8, 16.
/// let (a, area) = ResultsArea::EMPTY.push(4, 4);
/// let (b, area) = area.push(8, 8);
/// let (c, area) = area.push(4, 4);
/// assert_eq!((a, b, c, area.size()), (0, 8, 16, 20));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResultsArea {
    size: u32,
    align: u32,
}

impl ResultsArea {
    /// An area with no field.
    pub const EMPTY: ResultsArea = ResultsArea { size: 0, align: 1 };

    /// Appends a field of `size` bytes aligned to `align` (a power of two);
    /// returns its offset and the area with it.
    pub const fn push(self, size: u32, align: u32) -> (u32, ResultsArea) {
        let offset = self.size.next_multiple_of(align);
        let align = if align > self.align {
            align
        } else {
            self.align
        };
        (
            offset,
            ResultsArea {
                size: offset + size,
                align,
            },
        )
    }

    /// Bytes up to the end of the last field (what a callee may write).
    pub const fn size(self) -> u32 {
        self.size
    }

    /// The strictest alignment of a field (1 when empty).
    pub const fn align(self) -> u32 {
        self.align
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[repr(C)]
    struct Mixed(u8, u64, u32, u128, u16);

    #[test]
    fn agrees_with_repr_c() {
        let push =
            |area: ResultsArea, size: usize, align: usize| area.push(size as u32, align as u32);
        let (a, area) = push(ResultsArea::EMPTY, 1, 1);
        let (b, area) = push(area, 8, align_of::<u64>());
        let (c, area) = push(area, 4, 4);
        let (d, area) = push(area, 16, align_of::<u128>());
        let (e, area) = push(area, 2, 2);
        let offsets = [a, b, c, d, e].map(|o| o as usize);
        assert_eq!(
            offsets,
            [
                offset_of!(Mixed, 0),
                offset_of!(Mixed, 1),
                offset_of!(Mixed, 2),
                offset_of!(Mixed, 3),
                offset_of!(Mixed, 4),
            ]
        );
        assert_eq!(area.align() as usize, align_of::<Mixed>());
        assert_eq!(
            (area.size() as usize).next_multiple_of(area.align() as usize),
            size_of::<Mixed>()
        );
        assert_eq!(ResultsArea::EMPTY.size(), 0);
    }
}
