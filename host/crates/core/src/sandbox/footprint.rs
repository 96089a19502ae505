//! What a component will take from the pooling allocator — core instances, and the
//! linear memories and tables they define — counted from its bytes the way wasmtime
//! counts them, so that a component over its plugin's limits is refused by name and
//! before a compile, whatever the toolchain that made it.

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

/// One component or core module being read.
enum Frame {
    Module(Footprint),
    Component {
        /// The core module index space: a module defined here, else `None` (imported or
        /// aliased from an instance: instantiating it costs an instance, its own memories
        /// unknown, as in wasmtime).
        modules: Vec<Option<Footprint>>,
        /// The component index space, likewise.
        components: Vec<Option<Footprint>>,
        total: Footprint,
    },
}

/// Counts what instantiating the component in `bytes` instantiates. Function bodies
/// are passed over unread.
pub fn footprint(bytes: &[u8]) -> Result<Footprint, String> {
    let mut stack: Vec<Frame> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| e.to_string())?;
        let error = |e: wasmparser::BinaryReaderError| e.to_string();
        match payload {
            Payload::Version { encoding, .. } => stack.push(match encoding {
                Encoding::Module => Frame::Module(Footprint::default()),
                Encoding::Component => Frame::Component {
                    modules: Vec::new(),
                    components: Vec::new(),
                    total: Footprint::default(),
                },
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
                for import in section {
                    match import.map_err(error)?.ty {
                        ComponentTypeRef::Module(_) => modules(&mut stack)?.push(None),
                        ComponentTypeRef::Component(_) => components(&mut stack)?.push(None),
                        _ => {}
                    }
                }
            }
            Payload::ComponentExportSection(section) => {
                for export in section {
                    let export = export.map_err(error)?;
                    let index = export.index as usize;
                    match export.kind {
                        ComponentExternalKind::Module => {
                            let module = modules(&mut stack)?.get(index).copied().flatten();
                            modules(&mut stack)?.push(module);
                        }
                        ComponentExternalKind::Component => {
                            let component = components(&mut stack)?.get(index).copied().flatten();
                            components(&mut stack)?.push(component);
                        }
                        _ => {}
                    }
                }
            }
            Payload::ComponentAliasSection(section) => {
                for alias in section {
                    match alias.map_err(error)? {
                        ComponentAlias::InstanceExport { kind, .. } => match kind {
                            ComponentExternalKind::Module => modules(&mut stack)?.push(None),
                            ComponentExternalKind::Component => components(&mut stack)?.push(None),
                            _ => {}
                        },
                        ComponentAlias::Outer { kind, count, index } => {
                            let outer = stack
                                .len()
                                .checked_sub(1 + count as usize)
                                .and_then(|at| stack.get(at));
                            let Some(Frame::Component {
                                modules: outer_modules,
                                components: outer_components,
                                ..
                            }) = outer
                            else {
                                return Err("an outer alias past the outermost component".into());
                            };
                            match kind {
                                ComponentOuterAliasKind::CoreModule => {
                                    let module = outer_modules.get(index as usize).copied();
                                    modules(&mut stack)?.push(module.flatten());
                                }
                                ComponentOuterAliasKind::Component => {
                                    let component = outer_components.get(index as usize).copied();
                                    components(&mut stack)?.push(component.flatten());
                                }
                                _ => {}
                            }
                        }
                        ComponentAlias::CoreInstanceExport { .. } => {}
                    }
                }
            }
            Payload::InstanceSection(section) => {
                for instance in section {
                    if let Instance::Instantiate { module_index, .. } = instance.map_err(error)? {
                        let Some(Frame::Component { modules, total, .. }) = stack.last_mut() else {
                            return Err("a core instance outside a component".into());
                        };
                        total.core_instances += 1;
                        if let Some(Some(module)) = modules.get(module_index as usize) {
                            total.memories += module.memories;
                            total.tables += module.tables;
                        }
                    }
                }
            }
            Payload::ComponentInstanceSection(section) => {
                for instance in section {
                    if let ComponentInstance::Instantiate {
                        component_index, ..
                    } = instance.map_err(error)?
                    {
                        let Some(Frame::Component {
                            components, total, ..
                        }) = stack.last_mut()
                        else {
                            return Err("a component instance outside a component".into());
                        };
                        if let Some(Some(component)) = components.get(component_index as usize) {
                            let component = *component;
                            total.add(component);
                        }
                    }
                }
            }
            Payload::End(_) => {
                let done = stack.pop().ok_or("unbalanced sections")?;
                match (done, stack.last_mut()) {
                    (Frame::Component { total, .. }, None) => return Ok(total),
                    (Frame::Module(_), None) => {
                        return Err("a core module, not a component".to_owned());
                    }
                    (Frame::Module(module), Some(Frame::Component { modules, .. })) => {
                        modules.push(Some(module))
                    }
                    (Frame::Component { total, .. }, Some(Frame::Component { components, .. })) => {
                        components.push(Some(total))
                    }
                    (_, Some(Frame::Module(_))) => return Err("a module nested in a module".into()),
                }
            }
            _ => {}
        }
    }
    Err("the file ends inside a component".to_owned())
}

fn modules(stack: &mut [Frame]) -> Result<&mut Vec<Option<Footprint>>, String> {
    match stack.last_mut() {
        Some(Frame::Component { modules, .. }) => Ok(modules),
        _ => Err("a component section inside a core module".to_owned()),
    }
}

fn components(stack: &mut [Frame]) -> Result<&mut Vec<Option<Footprint>>, String> {
    match stack.last_mut() {
        Some(Frame::Component { components, .. }) => Ok(components),
        _ => Err("a component section inside a core module".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        Component, ComponentInstanceSection, InstanceSection, MemorySection, MemoryType, Module,
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
