//! What a WebAssembly module needs from Springboard: its distinct function
//! signatures, how its functions use each, and which trampolines that takes.

use springboard_environ::{Signature, SignatureError, TrampolineKind};
use std::collections::HashMap;
use wasmparser::{
    BinaryReaderError, CompositeInnerType, ConstExpr, ElementItems, ExternalKind, FuncType,
    Operator, Parser, Payload, TableInit, TypeRef, Validator, WasmFeatures,
};

/// Why a module could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid WebAssembly module")]
pub struct ModuleError(#[from] wasmparser::BinaryReaderError);

/// One distinct function type of a module and how it is used.
#[derive(Clone, Debug)]
pub struct TypeUse {
    /// The type as the module declares it.
    pub func_type: FuncType,
    /// The type as a Springboard signature, or why it cannot be one.
    pub signature: Result<Signature, SignatureError>,
    /// Functions of this type (imported and defined).
    pub functions: usize,
    /// Imported functions of this type: each needs the host side of a
    /// funcref (`wasm_to_native`, `wasm_to_array`, `native_to_array`).
    pub imported: usize,
    /// Functions of this type that the host can reach: exported, or named
    /// by `ref.func` anywhere a module can hand a funcref out — element
    /// segments of every form (function indices or expressions; active,
    /// passive or declarative), global initialisers and table initialisers.
    /// Each needs the wasm side (`array_to_wasm`, `native_to_wasm`, and
    /// `entry` for legacy hosts).
    pub reachable: usize,
}

impl TypeUse {
    /// The trampoline kinds this type needs, in [`TrampolineKind::ALL`] order:
    /// [`TrampolineKind::WASM_TO_HOST`] if it has imports, and
    /// [`TrampolineKind::HOST_TO_WASM`] if the host can reach its functions.
    pub fn needed_kinds(&self) -> Vec<TrampolineKind> {
        TrampolineKind::ALL
            .into_iter()
            .filter(|k| {
                (self.imported > 0 && TrampolineKind::WASM_TO_HOST.contains(k))
                    || (self.reachable > 0 && TrampolineKind::HOST_TO_WASM.contains(k))
            })
            .collect()
    }
}

/// The function types of a validated module.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    /// Distinct function types in order of first declaration.
    pub types: Vec<TypeUse>,
    /// Functions in the module (imported and defined).
    pub functions: usize,
}

impl ModuleInfo {
    /// Validates `wasm` (with every standard feature enabled) and collects
    /// its function types.
    pub fn parse(wasm: &[u8]) -> Result<ModuleInfo, ModuleError> {
        Validator::new_with_features(WasmFeatures::all()).validate_all(wasm)?;
        let mut info = ModuleInfo::default();
        // Each distinct type's index into `info.types`: a hash lookup per
        // declared type keeps parsing linear in the number of types.
        let mut interned: HashMap<FuncType, usize> = HashMap::new();
        // Module type index -> index into `info.types` (None: not a function type).
        let mut type_slots: Vec<Option<usize>> = Vec::new();
        // Function index -> index into `info.types`.
        let mut func_slots: Vec<usize> = Vec::new();
        let mut reachable: Vec<u32> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for sub in group?.into_types() {
                            let slot = match &sub.composite_type.inner {
                                CompositeInnerType::Func(f) => Some(info.intern(&mut interned, f)),
                                _ => None,
                            };
                            type_slots.push(slot);
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        if let TypeRef::Func(ty) | TypeRef::FuncExact(ty) = import?.ty {
                            let slot = func_type_slot(&type_slots, ty);
                            info.types[slot].imported += 1;
                            func_slots.push(slot);
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        func_slots.push(func_type_slot(&type_slots, ty?));
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        if export.kind == ExternalKind::Func {
                            reachable.push(export.index);
                        }
                    }
                }
                Payload::ElementSection(reader) => {
                    for element in reader {
                        match element?.items {
                            ElementItems::Functions(funcs) => {
                                for f in funcs {
                                    reachable.push(f?);
                                }
                            }
                            ElementItems::Expressions(_, exprs) => {
                                for expr in exprs {
                                    push_ref_funcs(&expr?, &mut reachable)?;
                                }
                            }
                        }
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader {
                        push_ref_funcs(&global?.init_expr, &mut reachable)?;
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        if let TableInit::Expr(expr) = table?.init {
                            push_ref_funcs(&expr, &mut reachable)?;
                        }
                    }
                }
                _ => {}
            }
        }
        for &slot in &func_slots {
            info.types[slot].functions += 1;
        }
        reachable.sort_unstable();
        reachable.dedup();
        for f in reachable {
            // The validator checked every function index.
            info.types[func_slots[f as usize]].reachable += 1;
        }
        info.functions = func_slots.len();
        Ok(info)
    }

    fn intern(&mut self, interned: &mut HashMap<FuncType, usize>, f: &FuncType) -> usize {
        *interned.entry(f.clone()).or_insert_with(|| {
            self.types.push(TypeUse {
                func_type: f.clone(),
                signature: Signature::from_wasm(f),
                functions: 0,
                imported: 0,
                reachable: 0,
            });
            self.types.len() - 1
        })
    }
}

/// Pushes every function a constant expression names with `ref.func`.
fn push_ref_funcs(expr: &ConstExpr<'_>, out: &mut Vec<u32>) -> Result<(), BinaryReaderError> {
    for op in expr.get_operators_reader() {
        if let Operator::RefFunc { function_index } = op? {
            out.push(function_index);
        }
    }
    Ok(())
}

/// The slot of a type index that the validator has checked is a function type.
fn func_type_slot(type_slots: &[Option<usize>], ty: u32) -> usize {
    type_slots[ty as usize].expect("validated: functions have function types")
}
