//! What a component will take from the pooling allocator — core instances, and the
//! linear memories and tables they define — counted from its bytes the way wasmtime
//! counts them, so that a component over its plugin's limits is refused by name and
//! before a compile, whatever the toolchain that made it.

use std::collections::BTreeMap;
use std::rc::Rc;

use wasmparser::{
    ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind,
    ComponentTypeRef, Encoding, Instance, Parser, Payload,
};

use crate::config::limits::ComponentLimits;

/// What one instance of a component holds, all nested components included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    pub core_instances: u64,
    pub memories: u64,
    pub tables: u64,
}

impl Footprint {
    fn add(&mut self, other: Footprint) {
        self.core_instances += other.core_instances;
        self.memories += other.memories;
        self.tables += other.tables;
    }

    /// The first limit this footprint exceeds: (config key, figure, limit).
    pub fn over(&self, limits: &ComponentLimits) -> Option<(&'static str, u64, u32)> {
        [
            ("core_instances", self.core_instances, limits.core_instances),
            ("memories", self.memories, limits.memories),
            ("tables", self.tables, limits.tables),
        ]
        .into_iter()
        .find(|(_, figure, limit)| *figure > u64::from(*limit))
    }
}

/// A core module of an index space: its own figures, or `None` when they cannot be
/// known (imported, or aliased out of an instance whose exports are not known).
type ModuleFigures = Option<Footprint>;

/// A component of an index space: what instantiating it costs and what its instances
/// export, or `None` when that cannot be known.
type ComponentFigures = Option<Rc<Counted>>;

/// A component instance of an index space: what it exports, or `None` when that cannot
/// be known (imported).
type InstanceExports = Option<Rc<Exports>>;

/// A component read to its end.
struct Counted {
    total: Footprint,
    exports: Exports,
}

/// What a component (each of its instances) exports that instantiating costs: core
/// modules, components, and instances holding more of them, by name.
#[derive(Default, Clone)]
struct Exports {
    modules: BTreeMap<String, ModuleFigures>,
    components: BTreeMap<String, ComponentFigures>,
    instances: BTreeMap<String, InstanceExports>,
}

/// One component or core module being read.
enum Frame {
    Module(Footprint),
    Component(Scope),
}

/// A component being read: its index spaces (as far as they cost anything), its
/// exports, and what it instantiates.
#[derive(Default)]
struct Scope {
    modules: Vec<ModuleFigures>,
    components: Vec<ComponentFigures>,
    instances: Vec<InstanceExports>,
    exports: Exports,
    total: Footprint,
}

impl Scope {
    fn module(&self, index: u32) -> ModuleFigures {
        self.modules.get(index as usize).copied().flatten()
    }

    fn component(&self, index: u32) -> ComponentFigures {
        self.components.get(index as usize).cloned().flatten()
    }

    fn instance(&self, index: u32) -> InstanceExports {
        self.instances.get(index as usize).cloned().flatten()
    }

    /// Exports `index` of `kind` as `name`: the export is a new index of its kind too.
    fn export(&mut self, name: &str, kind: ComponentExternalKind, index: u32) {
        match kind {
            ComponentExternalKind::Module => {
                let module = self.module(index);
                self.modules.push(module);
                self.exports.modules.insert(name.to_owned(), module);
            }
            ComponentExternalKind::Component => {
                let component = self.component(index);
                self.components.push(component.clone());
                self.exports.components.insert(name.to_owned(), component);
            }
            ComponentExternalKind::Instance => {
                let instance = self.instance(index);
                self.instances.push(instance.clone());
                self.exports.instances.insert(name.to_owned(), instance);
            }
            _ => {}
        }
    }

    /// What an instance made of `exports` (kind and index each) exports.
    fn bundle<'a>(
        &self,
        exports: impl IntoIterator<Item = (&'a str, ComponentExternalKind, u32)>,
    ) -> Exports {
        let mut bundle = Exports::default();
        for (name, kind, index) in exports {
            let name = name.to_owned();
            match kind {
                ComponentExternalKind::Module => {
                    bundle.modules.insert(name, self.module(index));
                }
                ComponentExternalKind::Component => {
                    bundle.components.insert(name, self.component(index));
                }
                ComponentExternalKind::Instance => {
                    bundle.instances.insert(name, self.instance(index));
                }
                _ => {}
            }
        }
        bundle
    }

    /// Adds what the instance `index` exports as `name` to the index space of `kind`.
    fn alias_export(&mut self, kind: ComponentExternalKind, instance: u32, name: &str) {
        let exports = self.instance(instance);
        match kind {
            ComponentExternalKind::Module => {
                let module = exports.and_then(|e| e.modules.get(name).copied().flatten());
                self.modules.push(module);
            }
            ComponentExternalKind::Component => {
                let component = exports.and_then(|e| e.components.get(name).cloned().flatten());
                self.components.push(component);
            }
            ComponentExternalKind::Instance => {
                let instance = exports.and_then(|e| e.instances.get(name).cloned().flatten());
                self.instances.push(instance);
            }
            _ => {}
        }
    }
}

/// Counts what instantiating the component in `bytes` instantiates, following modules
/// and components through exports, instances and aliases at any depth. What it cannot
/// count (a module or component of unknown contents instantiated) is an error, never
/// zero. Function bodies are passed over unread.
pub fn footprint(bytes: &[u8]) -> Result<Footprint, String> {
    let mut stack: Vec<Frame> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| e.to_string())?;
        let error = |e: wasmparser::BinaryReaderError| e.to_string();
        match payload {
            Payload::Version { encoding, .. } => stack.push(match encoding {
                Encoding::Module => Frame::Module(Footprint::default()),
                Encoding::Component => Frame::Component(Scope::default()),
            }),
            Payload::MemorySection(section) => {
                if let Some(Frame::Module(module)) = stack.last_mut() {
                    module.memories += u64::from(section.count());
                }
            }
            Payload::TableSection(section) => {
                if let Some(Frame::Module(module)) = stack.last_mut() {
                    module.tables += u64::from(section.count());
                }
            }
            Payload::ComponentImportSection(section) => {
                let scope = scope(&mut stack)?;
                for import in section {
                    match import.map_err(error)?.ty {
                        ComponentTypeRef::Module(_) => scope.modules.push(None),
                        ComponentTypeRef::Component(_) => scope.components.push(None),
                        ComponentTypeRef::Instance(_) => scope.instances.push(None),
                        _ => {}
                    }
                }
            }
            Payload::ComponentExportSection(section) => {
                let scope = scope(&mut stack)?;
                for export in section {
                    let export = export.map_err(error)?;
                    scope.export(export.name.name, export.kind, export.index);
                }
            }
            Payload::ComponentAliasSection(section) => {
                for alias in section {
                    match alias.map_err(error)? {
                        ComponentAlias::InstanceExport {
                            kind,
                            instance_index,
                            name,
                        } => scope(&mut stack)?.alias_export(kind, instance_index, name),
                        ComponentAlias::Outer { kind, count, index } => {
                            let outer = stack
                                .len()
                                .checked_sub(1 + count as usize)
                                .and_then(|at| stack.get(at));
                            let Some(Frame::Component(outer)) = outer else {
                                return Err("an outer alias past the outermost component".into());
                            };
                            match kind {
                                ComponentOuterAliasKind::CoreModule => {
                                    let module = outer.module(index);
                                    scope(&mut stack)?.modules.push(module);
                                }
                                ComponentOuterAliasKind::Component => {
                                    let component = outer.component(index);
                                    scope(&mut stack)?.components.push(component);
                                }
                                _ => {}
                            }
                        }
                        ComponentAlias::CoreInstanceExport { .. } => {}
                    }
                }
            }
            Payload::InstanceSection(section) => {
                let scope = scope(&mut stack)?;
                for instance in section {
                    if let Instance::Instantiate { module_index, .. } = instance.map_err(error)? {
                        let module = scope.module(module_index).ok_or_else(|| {
                            format!("it instantiates core module {module_index}, whose memories and tables cannot be counted (imported, or out of reach)")
                        })?;
                        scope.total.core_instances += 1;
                        scope.total.memories += module.memories;
                        scope.total.tables += module.tables;
                    }
                }
            }
            Payload::ComponentInstanceSection(section) => {
                let scope = scope(&mut stack)?;
                for instance in section {
                    let exports = match instance.map_err(error)? {
                        ComponentInstance::Instantiate {
                            component_index, ..
                        } => {
                            let component = scope.component(component_index).ok_or_else(|| {
                                format!("it instantiates component {component_index}, whose contents cannot be counted (imported, or out of reach)")
                            })?;
                            scope.total.add(component.total);
                            // Each instance exports what the component exports.
                            component.exports.clone()
                        }
                        ComponentInstance::FromExports(exports) => scope.bundle(
                            exports
                                .iter()
                                .map(|export| (export.name.name, export.kind, export.index)),
                        ),
                    };
                    scope.instances.push(Some(Rc::new(exports)));
                }
            }
            Payload::End(_) => {
                let done = stack.pop().ok_or("unbalanced sections")?;
                match (done, stack.last_mut()) {
                    (Frame::Component(scope), None) => return Ok(scope.total),
                    (Frame::Module(_), None) => {
                        return Err("a core module, not a component".to_owned());
                    }
                    (Frame::Module(module), Some(Frame::Component(outer))) => {
                        outer.modules.push(Some(module))
                    }
                    (Frame::Component(inner), Some(Frame::Component(outer))) => {
                        outer.components.push(Some(Rc::new(Counted {
                            total: inner.total,
                            exports: inner.exports,
                        })))
                    }
                    (_, Some(Frame::Module(_))) => return Err("a module nested in a module".into()),
                }
            }
            _ => {}
        }
    }
    Err("the file ends inside a component".to_owned())
}

/// The component being read.
fn scope(stack: &mut [Frame]) -> Result<&mut Scope, String> {
    match stack.last_mut() {
        Some(Frame::Component(scope)) => Ok(scope),
        _ => Err("a component section inside a core module".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        Alias, Component, ComponentAliasSection, ComponentExportKind, ComponentExportSection,
        ComponentInstanceSection, InstanceSection, MemorySection, MemoryType, Module,
        ModuleSection, NestedComponentSection, TableSection, TableType,
    };

    const NO_ARGS: [(&str, wasm_encoder::ModuleArg); 0] = [];
    const NO_COMPONENT_ARGS: [(&str, wasm_encoder::ComponentExportKind, u32); 0] = [];

    fn module(memories: u32, tables: u32) -> Module {
        let mut module = Module::new();
        let mut table_section = TableSection::new();
        for _ in 0..tables {
            table_section.table(TableType {
                element_type: wasm_encoder::RefType::FUNCREF,
                table64: false,
                minimum: 1,
                maximum: None,
                shared: false,
            });
        }
        module.section(&table_section);
        let mut memory_section = MemorySection::new();
        for _ in 0..memories {
            memory_section.memory(MemoryType {
                minimum: 1,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            });
        }
        module.section(&memory_section);
        module
    }

    #[test]
    fn instances_memories_and_tables_are_counted_through_nested_components() {
        // Inner: one module with a memory and two tables, instantiated twice.
        let mut inner = Component::new();
        inner.section(&ModuleSection(&module(1, 2)));
        let mut instances = InstanceSection::new();
        instances.instantiate(0, NO_ARGS);
        instances.instantiate(0, NO_ARGS);
        inner.section(&instances);
        // Outer: a module without memory instantiated once, the inner component twice.
        let mut outer = Component::new();
        outer.section(&ModuleSection(&module(0, 1)));
        let mut instances = InstanceSection::new();
        instances.instantiate(0, NO_ARGS);
        outer.section(&instances);
        outer.section(&NestedComponentSection(&inner));
        let mut components = ComponentInstanceSection::new();
        components.instantiate(0, NO_COMPONENT_ARGS);
        components.instantiate(0, NO_COMPONENT_ARGS);
        outer.section(&components);
        assert_eq!(
            footprint(&outer.finish()).unwrap(),
            Footprint {
                core_instances: 5,
                memories: 4,
                tables: 9,
            }
        );
    }

    /// A component that instantiates a nested component exporting a one-memory module as
    /// `m`, aliases `alias` out of that instance and instantiates it three times.
    fn aliasing(alias: &str) -> Vec<u8> {
        let mut nested = Component::new();
        nested.section(&ModuleSection(&module(1, 0)));
        let mut exports = ComponentExportSection::new();
        exports.export("m", ComponentExportKind::Module, 0, None);
        nested.section(&exports);
        let mut outer = Component::new();
        outer.section(&NestedComponentSection(&nested));
        let mut components = ComponentInstanceSection::new();
        components.instantiate(0, NO_COMPONENT_ARGS);
        outer.section(&components);
        let mut aliases = ComponentAliasSection::new();
        aliases.alias(Alias::InstanceExport {
            instance: 0,
            kind: ComponentExportKind::Module,
            name: alias,
        });
        outer.section(&aliases);
        let mut instances = InstanceSection::new();
        for _ in 0..3 {
            instances.instantiate(0, NO_ARGS);
        }
        outer.section(&instances);
        outer.finish()
    }

    #[test]
    fn modules_aliased_out_of_instances_are_counted_and_unknown_ones_refused() {
        assert_eq!(
            footprint(&aliasing("m")).unwrap(),
            Footprint {
                core_instances: 3,
                memories: 3,
                tables: 0,
            }
        );
        let unknown = footprint(&aliasing("absent")).unwrap_err();
        assert!(unknown.contains("cannot be counted"), "{unknown}");
    }

    #[test]
    fn the_first_limit_exceeded_is_named() {
        let figures = Footprint {
            core_instances: 14,
            memories: 1,
            tables: 2,
        };
        let limits = ComponentLimits {
            core_instances: 4,
            memories: 4,
            tables: 4,
        };
        assert_eq!(figures.over(&limits), Some(("core_instances", 14, 4)));
        assert_eq!(figures.over(&ComponentLimits::default()), None);
        assert!(footprint(b"\0asm\x01\0\0\0").is_err());
    }
}
