//! Hostile components made to measure with `wasm-encoder` (wasmtime's own version), for
//! the tests of the plugin loader and the component limits.
//!
//! Each starts as a real plugin of the xacct world — it exports `run: func(input: string)
//! -> result<string, string>`, lifted from a core function that answers `{}`, and
//! imports nothing — so that the one hostile trait a test adds is the only thing the
//! loader can object to: a function that is slow to compile, a `run` of another type,
//! an import of a WASI interface this host does not serve, or memories in core instances
//! of a module aliased out of a nested component's instance.

use wasm_encoder::{
    Alias, BlockType, CanonicalFunctionSection, CanonicalOption, CodeSection, Component,
    ComponentAliasSection, ComponentExportKind, ComponentExportSection, ComponentImportSection,
    ComponentInstanceSection, ComponentTypeRef, ComponentTypeSection, ComponentValType, ConstExpr,
    CustomSection, DataSection, ExportKind, ExportSection, Function, FunctionSection,
    InstanceSection, InstanceType, Instruction, MemorySection, MemoryType, Module, ModuleArg,
    ModuleSection, NestedComponentSection, PrimitiveValType, TypeSection, ValType,
};

/// What `run` is exported as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Run {
    /// `func(input: string) -> result<string, string>`: the world's.
    #[default]
    Typed,
    /// `func(n: u32) -> u32`: a function, of another type (the slow function itself when
    /// there is one).
    WrongType,
    /// The plugin's core module, under the name `run`.
    CoreModule,
}

/// A plugin component and the one hostile trait it carries.
#[derive(Debug, Clone, Default)]
pub struct PluginComponent {
    pub run: Run,
    /// Locals of a function whose compile time is quadratic in them (`n` locals live
    /// across `n` loops); 0: no such function. About 6,000 take 8 s to compile.
    pub slow_locals: u32,
    /// Core instances, one memory each, of a module that a nested component exports and
    /// the plugin aliases out of that component's instance.
    pub aliased_memories: u32,
    /// Imports `wasi:nothing/at-all@0.2.0` (one function, `f: func()`): a name the cheap
    /// world check lets through (`wasi:*`) and the linker does not provide, so that the
    /// type check after the compile refuses the plugin.
    pub unknown_wasi_import: bool,
    /// Makes otherwise equal components differ (a custom section), so each has its own
    /// digest.
    pub salt: u32,
}

/// Where the plugin's core module keeps its answer: the `result<string, string>` of the
/// canonical ABI (discriminant, pointer, length) at 0, the text `{}` after it.
const ANSWER: [u8; 14] = [0, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, b'{', b'}'];
/// Where `cabi_realloc` puts the input: past the answer, within the one page.
const INPUT_AT: i32 = 1024;

impl PluginComponent {
    pub fn bytes(&self) -> Vec<u8> {
        let mut component = Component::new();
        component.section(&CustomSection {
            name: "xacct-test-salt".into(),
            data: self.salt.to_le_bytes().to_vec().into(),
        });
        // Component types: result<string, string>, the world's run, and the wrong one.
        let mut types = ComponentTypeSection::new();
        types.defined_type().result(
            Some(PrimitiveValType::String.into()),
            Some(PrimitiveValType::String.into()),
        );
        types
            .function()
            .params([("input", PrimitiveValType::String)])
            .result(Some(ComponentValType::Type(0)));
        types
            .function()
            .params([("n", PrimitiveValType::U32)])
            .result(Some(PrimitiveValType::U32.into()));
        // An interface of one function, `f: func()`.
        let mut interface = InstanceType::new();
        interface
            .ty()
            .function()
            .params(Vec::<(&str, PrimitiveValType)>::new())
            .result(None);
        interface.export("f", ComponentTypeRef::Func(0));
        types.instance(&interface);
        component.section(&types);
        let (typed_run, wrong_run, unknown_interface) = (1, 2, 3);
        if self.unknown_wasi_import {
            let mut imports = ComponentImportSection::new();
            imports.import(
                "wasi:nothing/at-all@0.2.0",
                ComponentTypeRef::Instance(unknown_interface),
            );
            component.section(&imports);
        }

        // Core modules: the plugin's (0), then the aliased one (1).
        component.section(&ModuleSection(&self.plugin_module()));
        let mut core_instances = InstanceSection::new();
        core_instances.instantiate(0, Vec::<(&str, ModuleArg)>::new());
        if self.aliased_memories > 0 {
            let mut nested = Component::new();
            nested.section(&ModuleSection(&memory_module()));
            let mut exports = ComponentExportSection::new();
            exports.export("m", ComponentExportKind::Module, 0, None);
            nested.section(&exports);
            component.section(&NestedComponentSection(&nested));
            let mut instances = ComponentInstanceSection::new();
            instances.instantiate(0, Vec::<(&str, ComponentExportKind, u32)>::new());
            component.section(&instances);
            let mut aliases = ComponentAliasSection::new();
            aliases.alias(Alias::InstanceExport {
                instance: 0,
                kind: ComponentExportKind::Module,
                name: "m",
            });
            component.section(&aliases);
            for _ in 0..self.aliased_memories {
                core_instances.instantiate(1, Vec::<(&str, ModuleArg)>::new());
            }
        }
        component.section(&core_instances);

        // The plugin instance's memory, realloc, run and slow function.
        let mut aliases = ComponentAliasSection::new();
        for (kind, name) in [
            (ExportKind::Memory, "memory"),
            (ExportKind::Func, "cabi_realloc"),
            (ExportKind::Func, "run"),
            (ExportKind::Func, "slow"),
        ] {
            aliases.alias(Alias::CoreInstanceExport {
                instance: 0,
                kind,
                name,
            });
        }
        component.section(&aliases);
        let (realloc, core_run, slow) = (0, 1, 2);

        let mut exports = ComponentExportSection::new();
        match self.run {
            Run::Typed => {
                let mut lifts = CanonicalFunctionSection::new();
                lifts.lift(
                    core_run,
                    typed_run,
                    [
                        CanonicalOption::UTF8,
                        CanonicalOption::Memory(0),
                        CanonicalOption::Realloc(realloc),
                    ],
                );
                component.section(&lifts);
                exports.export("run", ComponentExportKind::Func, 0, None);
            }
            Run::WrongType => {
                let mut lifts = CanonicalFunctionSection::new();
                lifts.lift(slow, wrong_run, []);
                component.section(&lifts);
                exports.export("run", ComponentExportKind::Func, 0, None);
            }
            Run::CoreModule => {
                exports.export("run", ComponentExportKind::Module, 0, None);
            }
        }
        component.section(&exports);
        component.finish()
    }

    /// One page of memory holding the answer; `run(ptr, len) -> answer`,
    /// `cabi_realloc(..) -> INPUT_AT`, and `slow(n) -> n`.
    fn plugin_module(&self) -> Module {
        let mut types = TypeSection::new();
        types
            .ty()
            .function([ValType::I32, ValType::I32], [ValType::I32]);
        types.ty().function([ValType::I32; 4], [ValType::I32]);
        types.ty().function([ValType::I32], [ValType::I32]);
        let mut functions = FunctionSection::new();
        functions.function(0).function(1).function(2);
        let mut memories = MemorySection::new();
        memories.memory(one_page());
        let mut exports = ExportSection::new();
        exports
            .export("memory", ExportKind::Memory, 0)
            .export("run", ExportKind::Func, 0)
            .export("cabi_realloc", ExportKind::Func, 1)
            .export("slow", ExportKind::Func, 2);
        let mut code = CodeSection::new();
        let mut run = Function::new(Vec::<(u32, ValType)>::new());
        run.instruction(&Instruction::I32Const(0))
            .instruction(&Instruction::End);
        code.function(&run);
        let mut realloc = Function::new(Vec::<(u32, ValType)>::new());
        realloc
            .instruction(&Instruction::I32Const(INPUT_AT))
            .instruction(&Instruction::End);
        code.function(&realloc);
        code.function(&slow_function(self.slow_locals));
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(0), ANSWER);
        let mut module = Module::new();
        module
            .section(&types)
            .section(&functions)
            .section(&memories)
            .section(&exports)
            .section(&code)
            .section(&data);
        module
    }
}

fn one_page() -> MemoryType {
    MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    }
}

/// A module that only defines one memory.
fn memory_module() -> Module {
    let mut memories = MemorySection::new();
    memories.memory(one_page());
    let mut module = Module::new();
    module.section(&memories);
    module
}

/// `(i32) -> i32` whose compile time is quadratic in `n`: `n` locals, each set first and
/// read last, live across `n` loops.
fn slow_function(n: u32) -> Function {
    let mut body = Function::new([(n, ValType::I32)]);
    for local in 1..=n {
        body.instruction(&Instruction::I32Const(local as i32))
            .instruction(&Instruction::LocalSet(local));
    }
    for _ in 0..n {
        body.instruction(&Instruction::Loop(BlockType::Empty))
            .instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::BrIf(0))
            .instruction(&Instruction::End);
    }
    for local in 1..=n {
        body.instruction(&Instruction::LocalGet(local))
            .instruction(&Instruction::LocalSet(0));
    }
    body.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::End);
    body
}

/// A `wasm32-wasip1` module (`module`, built against the world with wit-bindgen) with
/// `copies` more copies of its largest embedded world (a `component-type` custom section,
/// renamed each time): the adapter reads and merges every one of them, about 12 ms each
/// on a loaded two-core machine, while compiling the module costs no more than before.
pub fn wasip1_with_copied_worlds(module: &[u8], copies: u32) -> Vec<u8> {
    use wasm_encoder::Section;
    let largest = wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(|payload| match payload {
            Ok(wasmparser::Payload::CustomSection(section))
                if section.name().starts_with("component-type") =>
            {
                Some((section.name().to_owned(), section.data().to_vec()))
            }
            _ => None,
        })
        .max_by_key(|(_, data)| data.len())
        .expect("the module embeds its world");
    let mut bytes = module.to_vec();
    for copy in 0..copies {
        CustomSection {
            name: format!("{}-copy{copy}", largest.0).into(),
            data: largest.1.as_slice().into(),
        }
        .append_to(&mut bytes);
    }
    bytes
}
