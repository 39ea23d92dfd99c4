//! What a WebAssembly module needs from Springboard: its distinct function
//! types, how its functions use each, and which trampolines that takes.
//!
//! Types are WebAssembly 3.0's: recursion groups, struct and array types,
//! declared subtypes, typed references. Distinct means distinct as the
//! standard says (iso-recursively: the same structure in two groups is two
//! types); each is registered in a [`TypeSpace`] of the module's own.

use springboard_environ::types::{ModuleTypes, TypeError, TypeSpace};
use springboard_environ::{GcRefWidth, Signature, SignatureError, TrampolineKind};
use std::collections::HashMap;
use wasmparser::{
    BinaryReaderError, CompositeInnerType, ConstExpr, ElementItems, ExternalKind, FuncType,
    Operator, Parser, Payload, TableInit, TypeRef, Validator, WasmFeatures,
};

/// Why a module could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// Not a valid module.
    #[error("invalid WebAssembly module")]
    Invalid(#[from] wasmparser::BinaryReaderError),
    /// A type outside WebAssembly 3.0 (a shared type, a continuation).
    #[error("type {index}: {error}")]
    Unsupported {
        /// The first type of the group that holds it.
        index: u32,
        /// What is unsupported.
        error: SignatureError,
    },
    /// A group Springboard's registry refuses (a bug, for a valid module).
    #[error(transparent)]
    Type(#[from] TypeError),
}

/// One distinct function type of a module and how it is used.
#[derive(Clone, Debug)]
pub struct TypeUse {
    /// The type as the module declares it (first declaration).
    pub func_type: FuncType,
    /// The module index of its first declaration.
    pub module_index: u32,
    /// Its index in [`ModuleInfo::space`].
    pub space_index: u32,
    /// The type as a Springboard signature (references to defined types as
    /// module indices), or why it cannot be one.
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
    /// Whether no function has the type: it is used as a block type (or not
    /// at all) and needs no trampoline.
    pub fn block_type_only(&self) -> bool {
        self.functions == 0
    }

    /// The distinct trampoline types it travels as, under each GC
    /// reference width (one, unless it has GC references).
    pub fn trampoline_types(&self) -> Vec<Signature> {
        let Ok(sig) = &self.signature else {
            return Vec::new();
        };
        let mut out = vec![sig.trampoline_type(GcRefWidth::Bits32)];
        let wide = sig.trampoline_type(GcRefWidth::Pointer);
        if wide != out[0] {
            out.push(wide);
        }
        out
    }

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
pub struct ModuleInfo {
    /// Distinct function types in order of first declaration.
    pub types: Vec<TypeUse>,
    /// Functions in the module (imported and defined).
    pub functions: usize,
    /// Every type of the module (function, struct, array), by group.
    pub module_types: ModuleTypes,
    /// The module's types registered: canonical, with their supertypes.
    pub space: TypeSpace,
    /// Each module type's index in `space`.
    pub space_indices: Vec<u32>,
    /// The validator's view of the module's types: the independent verdict
    /// [`validator_subtype`](Self::validator_subtype) gives.
    validator_types: wasmparser::types::Types,
}

impl ModuleInfo {
    /// Validates `wasm` (with every standard feature enabled) and collects
    /// its function types.
    pub fn parse(wasm: &[u8]) -> Result<ModuleInfo, ModuleError> {
        let validator_types =
            Validator::new_with_features(WasmFeatures::all()).validate_all(wasm)?;
        let mut info = ModuleInfo {
            types: Vec::new(),
            functions: 0,
            module_types: ModuleTypes::new(),
            space: TypeSpace::new(),
            space_indices: Vec::new(),
            validator_types,
        };
        // Each distinct type's index into `info.types`, by its index in
        // `info.space`: one hash lookup per declared type.
        let mut interned: HashMap<u32, usize> = HashMap::new();
        // Module type index -> index into `info.types` (None: not a function type).
        let mut type_slots: Vec<Option<usize>> = Vec::new();
        // Function index -> index into `info.types`.
        let mut func_slots: Vec<usize> = Vec::new();
        let mut reachable: Vec<u32> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        let group = group?;
                        let start = type_slots.len() as u32;
                        info.module_types.push(&group).map_err(|error| {
                            ModuleError::Unsupported {
                                index: start,
                                error,
                            }
                        })?;
                        let last = info.module_types.groups().len() - 1;
                        let canonical = info.module_types.canonical(last, &info.space_indices)?;
                        let range = info.space.register(canonical)?;
                        let (_, types) = &info.module_types.groups()[last];
                        info.space_indices.extend(range.clone());
                        for ((sub, space_index), ty) in
                            group.into_types().zip(range).zip(types.clone())
                        {
                            let module_index = type_slots.len() as u32;
                            let slot = match (&sub.composite_type.inner, ty.as_func()) {
                                (CompositeInnerType::Func(f), Some(sig)) => {
                                    Some(*interned.entry(space_index).or_insert_with(|| {
                                        info.types.push(TypeUse {
                                            func_type: f.clone(),
                                            module_index,
                                            space_index,
                                            signature: Ok(sig.clone()),
                                            functions: 0,
                                            imported: 0,
                                            reachable: 0,
                                        });
                                        info.types.len() - 1
                                    }))
                                }
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
}

impl std::fmt::Debug for ModuleInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleInfo")
            .field("types", &self.types)
            .field("functions", &self.functions)
            .field("space", &self.space)
            .finish_non_exhaustive()
    }
}

impl ModuleInfo {
    /// Whether the validator says module type `a` is `b` or a declared
    /// subtype of it (by its canonical type ids and their supertypes).
    pub fn validator_subtype(&self, a: u32, b: u32) -> bool {
        let types = self.validator_types.as_ref();
        let (mut a, b) = (
            types.core_type_at_in_module(a),
            types.core_type_at_in_module(b),
        );
        loop {
            if a == b {
                return true;
            }
            match types.supertype_of(a) {
                Some(s) => a = s,
                None => return false,
            }
        }
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
