//! How each calling convention looks in Cranelift IR, and the small helpers
//! every trampoline shares: receive the arguments of a convention, call a
//! function of a convention, return the results of a convention.

use cranelift_codegen::ir::{
    self, AbiParam, Endianness, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
    types,
};
use cranelift_codegen::isa::{self, TargetIsa};
use cranelift_frontend::FunctionBuilder;
use springboard_environ::{Bookkeeping, CallConv, GcRefWidth, Signature, ValType, WasmConv};
use springboard_vm_abi::{PtrSize, ResultsArea};

/// What a function needs to know about its target to build trampolines.
pub(crate) struct Abi<'a> {
    pub(crate) isa: &'a dyn TargetIsa,
    pub(crate) wasm_conv: WasmConv,
    pub(crate) bookkeeping: Option<Bookkeeping>,
    pub(crate) sig: &'a Signature,
}

/// Where a result of a wasm-convention function travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResultLoc {
    /// In a return register (or wherever Cranelift puts it).
    Reg,
    /// At this offset of the return area passed as the last argument.
    Area(u32),
}

/// The arguments a function received, split by role.
pub(crate) struct Received {
    pub(crate) callee_vmctx: Value,
    pub(crate) caller_vmctx: Value,
    pub(crate) params: Vec<Value>,
    /// Where results go: the native results area pointer, or the array buffer.
    pub(crate) result_dest: Option<Value>,
}

/// `sig` is a trampoline type, whose references are pointers under either
/// GC width: this one serves for sizes.
const TRAMPOLINE: GcRefWidth = GcRefWidth::Pointer;

impl Abi<'_> {
    pub(crate) fn ptr(&self) -> ir::Type {
        self.isa.pointer_type()
    }

    fn ptr_bytes(&self) -> u8 {
        self.isa.pointer_bytes()
    }

    /// The target's pointer size, for `vm-abi` offsets.
    pub(crate) fn ptr_size(&self) -> PtrSize {
        PtrSize::new(self.ptr_bytes()).expect("Cranelift targets have 4- or 8-byte pointers")
    }

    /// Bytes per `ValRaw` slot (also the stride of a buffer of them).
    pub(crate) fn slot_size(&self) -> u32 {
        u32::from(self.ptr_size().size_of_val_raw())
    }

    fn native_cc(&self) -> isa::CallConv {
        self.isa.default_call_conv()
    }

    fn clif_type(&self, ty: ValType) -> ir::Type {
        match ty {
            ValType::I32 => types::I32,
            ValType::I64 => types::I64,
            ValType::F32 => types::F32,
            ValType::F64 => types::F64,
            ValType::V128 => types::I8X16,
            // Only trampoline types reach here: references are pointers.
            ValType::Ref(_) => self.ptr(),
        }
    }

    fn ptr_params(&self, n: usize) -> impl Iterator<Item = AbiParam> + use<> {
        std::iter::repeat_n(AbiParam::new(self.ptr()), n)
    }

    /// The Cranelift convention wasm-convention code uses.
    fn wasm_cc(&self) -> isa::CallConv {
        match self.wasm_conv {
            WasmConv::Tail => isa::CallConv::Tail,
            // System V's registers and stack; the return area is explicit
            // (see `wasm_results`).
            WasmConv::Wasmtime17 => isa::CallConv::SystemV,
        }
    }

    /// Where each result of a wasm-convention function goes, and the size
    /// of the explicit return area (0: none, and no area argument).
    ///
    /// `Tail` leaves every result to Cranelift. `Wasmtime17` places them as
    /// Cranelift 0.104's `fast` did on x86-64: the first two integer-class
    /// results (`i32`, `i64`, references) in registers, the first two
    /// float-class ones (`f32`, `f64`, `v128`) likewise, and each other one
    /// in the area, in a slot of `max(size, 8)` bytes aligned to that size.
    fn wasm_results(&self) -> (Vec<ResultLoc>, u32) {
        let results = self.sig.results();
        match self.wasm_conv {
            WasmConv::Tail => (vec![ResultLoc::Reg; results.len()], 0),
            WasmConv::Wasmtime17 => {
                let (mut ints, mut floats, mut next) = (0, 0, 0u32);
                let locs = results
                    .iter()
                    .map(|&t| {
                        let in_class = match t {
                            ValType::F32 | ValType::F64 | ValType::V128 => &mut floats,
                            _ => &mut ints,
                        };
                        if *in_class < 2 {
                            *in_class += 1;
                            return ResultLoc::Reg;
                        }
                        let size = t.byte_size(self.ptr_bytes(), TRAMPOLINE).max(8);
                        next = next.next_multiple_of(size);
                        let at = next;
                        next += size;
                        ResultLoc::Area(at)
                    })
                    .collect();
                (locs, next)
            }
        }
    }

    /// A zero of `ty` (its trampoline representation).
    pub(crate) fn zero(&self, b: &mut FunctionBuilder, ty: ValType) -> Value {
        match self.clif_type(ty) {
            types::F32 => b.ins().f32const(0.0),
            types::F64 => b.ins().f64const(0.0),
            types::I8X16 => {
                let zero = b.func.dfg.constants.insert(vec![0u8; 16].into());
                b.ins().vconst(types::I8X16, zero)
            }
            int => b.ins().iconst(int, 0),
        }
    }

    /// The IR signature of a function of `self.sig` entered with `conv`.
    pub(crate) fn signature(&self, conv: CallConv) -> ir::Signature {
        let value_params = |tys: &[ValType]| -> Vec<AbiParam> {
            tys.iter()
                .map(|&t| AbiParam::new(self.clif_type(t)))
                .collect()
        };
        let (params, results) = (self.sig.params(), self.sig.results());
        let mut s = ir::Signature::new(self.native_cc());
        s.params.extend(self.ptr_params(2)); // callee vmctx, caller vmctx
        match conv {
            CallConv::Wasm => {
                s.call_conv = self.wasm_cc();
                s.params.extend(value_params(params));
                let (locs, area) = self.wasm_results();
                if area > 0 {
                    s.params.push(AbiParam::new(self.ptr())); // return area
                }
                s.returns.extend(
                    results
                        .iter()
                        .zip(&locs)
                        .filter(|(_, loc)| **loc == ResultLoc::Reg)
                        .map(|(&t, _)| AbiParam::new(self.clif_type(t))),
                );
            }
            CallConv::Native => {
                let native = |tys: &[ValType]| -> Vec<AbiParam> {
                    value_params(tys)
                        .into_iter()
                        .map(|p| self.widened(p))
                        .collect()
                };
                s.params.extend(native(params));
                if results.len() > 1 {
                    s.params.push(AbiParam::new(self.ptr())); // results area
                }
                s.returns.extend(native(&results[..results.len().min(1)]));
            }
            CallConv::Array => s.params.extend(self.ptr_params(2)), // values, capacity
        }
        s
    }

    /// A native-convention `i32` argument or result as the target's C
    /// convention passes it: riscv64's and s390x's widen 32-bit integers to
    /// the whole register, and C compilers rely on it (a bare move for
    /// `(long)a`), where generated code leaves the upper bits as they are.
    /// Sign-extended: riscv64 does so for every 32-bit integer, s390x for
    /// `int` (an `unsigned int` callee there must not rely on the upper
    /// bits; Springboard's own shims never do).
    fn widened(&self, param: AbiParam) -> AbiParam {
        use target_lexicon::Architecture;
        let widens = matches!(
            self.isa.triple().architecture,
            Architecture::Riscv64(_) | Architecture::S390x
        );
        if widens && param.value_type == types::I32 {
            param.sext()
        } else {
            param
        }
    }

    /// The IR signature of a legacy `VMTrampoline`.
    pub(crate) fn entry_signature(&self) -> ir::Signature {
        let mut s = ir::Signature::new(self.native_cc());
        s.params.extend(self.ptr_params(4));
        s
    }

    /// The alignment C gives a value of `ty` in a struct: its size, except
    /// `v128` on s390x, whose vector ABI aligns 16-byte vectors to 8.
    fn c_align(&self, ty: ValType) -> u32 {
        let s390x = matches!(
            self.isa.triple().architecture,
            target_lexicon::Architecture::S390x
        );
        if ty == ValType::V128 && s390x {
            8
        } else {
            ty.byte_size(self.ptr_bytes(), TRAMPOLINE)
        }
    }

    /// Offsets of results `1..` in the native results area, and its size
    /// (see `ResultsArea`), each aligned as C aligns it (`c_align`).
    pub(crate) fn native_results_area(&self) -> (Vec<u32>, u32) {
        let mut area = ResultsArea::EMPTY;
        let offsets = self.sig.results()[1.min(self.sig.results().len())..]
            .iter()
            .map(|&t| {
                let (offset, next) =
                    area.push(t.byte_size(self.ptr_bytes(), TRAMPOLINE), self.c_align(t));
                area = next;
                offset
            })
            .collect();
        (offsets, area.size())
    }

    /// Flags for `ValRaw` slots: always little-endian, whatever the target.
    fn slot_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_endianness(Endianness::Little)
    }

    /// Loads `tys` from consecutive `ValRaw` slots starting at `base`.
    pub(crate) fn load_slots(
        &self,
        b: &mut FunctionBuilder,
        base: Value,
        tys: &[ValType],
    ) -> Vec<Value> {
        let flags = self.slot_flags();
        (0..tys.len())
            .map(|i| {
                let ty = self.clif_type(tys[i]);
                b.ins()
                    .load(ty, flags, base, (i as u32 * self.slot_size()) as i32)
            })
            .collect()
    }

    /// Stores `values` of `tys` into consecutive `ValRaw` slots from `base`.
    /// Scalars narrower than 64 bits are zero-extended, so the first 8 bytes
    /// of every written slot are defined (as Wasmtime guarantees).
    pub(crate) fn store_slots(
        &self,
        b: &mut FunctionBuilder,
        base: Value,
        tys: &[ValType],
        values: &[Value],
    ) {
        let flags = self.slot_flags();
        for (i, (&ty, &v)) in tys.iter().zip(values).enumerate() {
            let v = match ty {
                ValType::F32 => b.ins().bitcast(types::I32, MemFlagsData::new(), v),
                _ => v,
            };
            let v = match b.func.dfg.value_type(v) {
                types::I32 => b.ins().uextend(types::I64, v),
                _ => v,
            };
            b.ins()
                .store(flags, v, base, (i as u32 * self.slot_size()) as i32);
        }
    }

    /// A stack slot of `bytes` bytes, aligned as a `ValRaw` buffer must be
    /// (16), and its address. Cranelift aligns a slot at most as the stack
    /// pointer is: on s390x that is 8, so there the slot is 8 bytes larger
    /// and its address rounded up.
    fn stack_buffer(&self, b: &mut FunctionBuilder, bytes: u32) -> Value {
        let align = u32::from(self.ptr_size().align_of_val_raw());
        let realign = self.isa.triple().architecture == target_lexicon::Architecture::S390x;
        let size = bytes.max(self.slot_size()) + if realign { align - 8 } else { 0 };
        let slot = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            size,
            align.trailing_zeros() as u8,
        ));
        let addr = b.ins().stack_addr(self.ptr(), slot, 0);
        if !realign {
            return addr;
        }
        let bumped = b.ins().iadd_imm_u(addr, i64::from(align - 1));
        b.ins().band_imm_s(bumped, -i64::from(align))
    }

    /// Creates the entry block for a function entered with `conv` and splits
    /// its arguments. For the array convention the parameters are loaded
    /// from the buffer, which becomes the result destination.
    pub(crate) fn receive(&self, b: &mut FunctionBuilder, conv: CallConv) -> Received {
        let args = entry_block(b);
        let n = self.sig.params().len();
        let (params, result_dest) = match conv {
            // The return area, if any, follows the parameters in both.
            CallConv::Wasm | CallConv::Native => {
                (args[2..2 + n].to_vec(), args.get(2 + n).copied())
            }
            CallConv::Array => (
                self.load_slots(b, args[2], self.sig.params()),
                Some(args[2]),
            ),
        };
        Received {
            callee_vmctx: args[0],
            caller_vmctx: args[1],
            params,
            result_dest,
        }
    }

    /// Calls `callee`, a function of `self.sig` entered with `conv`, and
    /// returns its results. With a `handler` (wasm callees only), the call
    /// is a `try_call` whose every exception goes there.
    pub(crate) fn call(
        &self,
        b: &mut FunctionBuilder,
        conv: CallConv,
        callee: Value,
        vmctx: [Value; 2],
        params: &[Value],
        handler: Option<ir::Block>,
    ) -> Vec<Value> {
        let sigref = b.import_signature(self.signature(conv));
        let results = self.sig.results();
        match conv {
            CallConv::Wasm => {
                let (locs, size) = self.wasm_results();
                let mut args: Vec<Value> = vmctx.iter().chain(params).copied().collect();
                let area = (size > 0).then(|| self.stack_buffer(b, size));
                args.extend(area);
                let in_regs = match handler {
                    None => {
                        let call = b.ins().call_indirect(sigref, callee, &args);
                        b.inst_results(call).to_vec()
                    }
                    Some(handler) => try_call(b, sigref, callee, &args, handler),
                };
                let mut in_regs = in_regs.into_iter();
                results
                    .iter()
                    .zip(locs)
                    .map(|(&ty, loc)| match (loc, area) {
                        (ResultLoc::Area(offset), Some(area)) => b.ins().load(
                            self.clif_type(ty),
                            MemFlagsData::trusted(),
                            area,
                            offset as i32,
                        ),
                        _ => in_regs.next().expect("one register result per Reg"),
                    })
                    .collect()
            }
            CallConv::Native => {
                let (offsets, size) = self.native_results_area();
                let mut args: Vec<Value> = vmctx.iter().chain(params).copied().collect();
                let area = (results.len() > 1).then(|| self.stack_buffer(b, size));
                args.extend(area);
                let call = b.ins().call_indirect(sigref, callee, &args);
                let mut out = b.inst_results(call).to_vec();
                if let Some(area) = area {
                    let flags = MemFlagsData::trusted();
                    for (&ty, offset) in results[1..].iter().zip(offsets) {
                        out.push(b.ins().load(self.clif_type(ty), flags, area, offset as i32));
                    }
                }
                out
            }
            CallConv::Array => {
                let len = self.sig.array_len();
                let values = self.stack_buffer(b, len as u32 * self.slot_size());
                self.store_slots(b, values, self.sig.params(), params);
                let capacity = b.ins().iconst(self.ptr(), len as i64);
                b.ins()
                    .call_indirect(sigref, callee, &[vmctx[0], vmctx[1], values, capacity]);
                self.load_slots(b, values, results)
            }
        }
    }

    /// Returns `results` the way `conv` expects, given where they go.
    pub(crate) fn ret(
        &self,
        b: &mut FunctionBuilder,
        conv: CallConv,
        dest: Option<Value>,
        results: &[Value],
    ) {
        match conv {
            CallConv::Wasm => {
                let (locs, _) = self.wasm_results();
                let mut in_regs = Vec::with_capacity(results.len());
                for (&v, loc) in results.iter().zip(locs) {
                    match (loc, dest) {
                        (ResultLoc::Area(offset), Some(area)) => {
                            b.ins()
                                .store(MemFlagsData::trusted(), v, area, offset as i32);
                        }
                        _ => in_regs.push(v),
                    }
                }
                b.ins().return_(&in_regs);
            }
            CallConv::Native => {
                if let Some(area) = dest {
                    let (offsets, _) = self.native_results_area();
                    for (&v, offset) in results[1..].iter().zip(offsets) {
                        b.ins()
                            .store(MemFlagsData::trusted(), v, area, offset as i32);
                    }
                }
                b.ins().return_(&results[..results.len().min(1)]);
            }
            CallConv::Array => {
                let values = dest.expect("array convention receives a buffer");
                self.store_slots(b, values, self.sig.results(), results);
                b.ins().return_(&[]);
            }
        }
    }
}

/// `try_call_indirect`s `callee` with every exception to `handler`; continues
/// in a new block and returns the call's results there.
fn try_call(
    b: &mut FunctionBuilder,
    sigref: ir::SigRef,
    callee: Value,
    args: &[Value],
    handler: ir::Block,
) -> Vec<Value> {
    let normal = b.create_block();
    let returns: Vec<ir::Type> = b.func.dfg.signatures[sigref]
        .returns
        .iter()
        .map(|r| r.value_type)
        .collect();
    let results: Vec<Value> = returns
        .iter()
        .map(|&ty| b.append_block_param(normal, ty))
        .collect();
    let dfg = &mut b.func.dfg;
    let to_normal = ir::BlockCall::new(
        normal,
        (0..returns.len()).map(|i| ir::BlockArg::TryCallRet(i as u32)),
        &mut dfg.value_lists,
    );
    let to_handler = ir::BlockCall::new(handler, None, &mut dfg.value_lists);
    let table = dfg.exception_tables.push(ir::ExceptionTableData::new(
        sigref,
        to_normal,
        [ir::ExceptionTableItem::Default(to_handler)],
    ));
    b.ins().try_call_indirect(callee, args, table);
    b.switch_to_block(normal);
    results
}

/// Creates and enters the entry block; returns the function's arguments.
pub(crate) fn entry_block(b: &mut FunctionBuilder) -> Vec<Value> {
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    b.block_params(block).to_vec()
}
