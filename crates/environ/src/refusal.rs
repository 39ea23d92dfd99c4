//! Which signatures a target's native convention cannot carry: where
//! Cranelift 0.135 and the platform's C ABI disagree, so a trampoline
//! Cranelift compiles would not match C. The one home of this rule: the
//! compiler refuses these signatures, the facade gives them no generic
//! entries, and the tools and tests report them as refused by the target.

use crate::format::Isa;
use crate::signature::Signature;
use crate::val_type::ValType;
use core::fmt;

/// Why a target refuses a signature (see [`Isa::refusal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// riscv64: a `v128` parameter or result. Cranelift needs the V
    /// extension for it, and C passes 16-byte vectors in integer registers.
    V128OnRiscv64,
    /// riscv64: more than 8 float parameters. C passes the ninth and later
    /// in free integer registers, Cranelift on the stack.
    FloatParamsBeyondEight {
        /// How many float parameters the signature has.
        count: usize,
    },
    /// s390x: more than one `v128` parameter. The ABI assigns v24, v26,
    /// v28…, Cranelift v24, v25, v26….
    SecondV128Param {
        /// How many `v128` parameters the signature has.
        count: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::V128OnRiscv64 => write!(
                f,
                "v128 on riscv64: Cranelift needs the V extension, and C passes 16-byte vectors in integer registers"
            ),
            Refusal::FloatParamsBeyondEight { count } => write!(
                f,
                "{count} float parameters on riscv64: beyond 8, C passes them in integer registers and Cranelift on the stack"
            ),
            Refusal::SecondV128Param { count } => write!(
                f,
                "{count} v128 parameters on s390x: the ABI passes the second in v26, Cranelift in v25"
            ),
        }
    }
}

impl Isa {
    /// Why this ISA's native convention cannot carry `sig`, or `None` if it
    /// can (x86-64 and aarch64 carry every signature).
    pub fn refusal(self, sig: &Signature) -> Option<Refusal> {
        let count = |pred: fn(&ValType) -> bool| sig.params().iter().filter(|t| pred(t)).count();
        let v128_params = count(|t| *t == ValType::V128);
        match self {
            Isa::Riscv64 if v128_params > 0 || sig.results().contains(&ValType::V128) => {
                Some(Refusal::V128OnRiscv64)
            }
            Isa::Riscv64 => {
                let floats = count(|t| matches!(t, ValType::F32 | ValType::F64));
                (floats > 8).then_some(Refusal::FloatParamsBeyondEight { count: floats })
            }
            Isa::S390x => {
                (v128_params > 1).then_some(Refusal::SecondV128Param { count: v128_params })
            }
            Isa::X86_64 | Isa::Aarch64 => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValType::{F32, F64, I32, V128};

    #[test]
    fn each_isa_refuses_what_its_abi_disagrees_on() {
        let sig = |p: &[ValType], r: &[ValType]| Signature::new(p, r).unwrap();
        let eight_floats = sig(&[F32, F64, F32, F64, F32, F64, F32, F64, I32], &[]);
        let nine_floats = sig(&[F32, F64, F32, F64, F32, F64, F32, F64, F32], &[]);
        let one_v128 = sig(&[V128, I32], &[V128]);
        let two_v128 = sig(&[V128, V128], &[]);
        for isa in [Isa::X86_64, Isa::Aarch64] {
            for s in [&eight_floats, &nine_floats, &one_v128, &two_v128] {
                assert_eq!(isa.refusal(s), None, "{isa} {s}");
            }
        }
        assert_eq!(Isa::Riscv64.refusal(&eight_floats), None);
        assert_eq!(
            Isa::Riscv64.refusal(&nine_floats),
            Some(Refusal::FloatParamsBeyondEight { count: 9 })
        );
        assert_eq!(
            Isa::Riscv64.refusal(&sig(&[], &[V128])),
            Some(Refusal::V128OnRiscv64)
        );
        assert_eq!(Isa::S390x.refusal(&one_v128), None);
        assert_eq!(Isa::S390x.refusal(&nine_floats), None);
        assert_eq!(
            Isa::S390x.refusal(&two_v128),
            Some(Refusal::SecondV128Param { count: 2 })
        );
        assert!(
            Refusal::SecondV128Param { count: 2 }
                .to_string()
                .contains("s390x")
        );
    }
}
