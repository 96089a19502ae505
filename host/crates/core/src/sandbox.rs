//! The pipeline's **sandbox** stage. Runs plugin components in wasmtime with nothing
//! but the capability: no preopened directory, no environment, no sockets, stdout and
//! stderr captured; memory, wall time and output size limited per invocation.
//!
//! Components are compiled once (and cached on disk, authenticated with the user's key);
//! every invocation instantiates a fresh instance from an `InstancePre` in the pooling
//! allocator, so nothing one account's run leaves in memory is seen by the next. Every way an invocation can end — a trap, a
//! limit, a panic, a host wait that never returns — ends as that invocation's
//! [`Failure`]; the host and the other invocations go on.

mod adapt;
mod cache;
mod catalog;
mod compile;
mod footprint;
mod load_error;
pub mod open;
mod output;
mod precheck;
mod provenance;
mod state;
mod verified;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};
use wasmtime_wasi::WasiCtxBuilder;

pub use cache::CacheLocation;
use catalog::Loader;
pub use catalog::{LoadOptions, LoadedPlugin, plugin_file, plugin_files};
pub use load_error::{LoadError, PinMismatch};
use output::CapturedOutput;
pub use provenance::{Provenance, ProvenanceOptions, detached_signature_path};
pub use verified::SignatureCheck;
// What the provenance options are made of.
pub use crate::config::provenance::{DigestPin, TrustPolicy};
use state::{InvocationState, MemoryLimit};

use crate::bindings::xacct::plugin::{accounts, invocation, s3, types};
use crate::capability::budget::{AwsDenial, BudgetExhausted, Usage};
use crate::capability::gate::Planned;
use crate::capability::invocation::{Capability, CapabilityData, CapabilityView};
use crate::config::limits::{GuestLimits, MAX_MEMORY_MIB};

/// What each pool slot keeps resident between instances (per memory, table and stack).
const KEEP_RESIDENT_BYTES: usize = 64 << 10;

/// How often the epoch advances: the granularity of the time limit for guest code.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How long an ended invocation waits for the backend calls it left running: a call in
/// flight ends within the S3 timeouts, and an abandoned multipart upload's abort is one
/// more call.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(150);

/// The wasmtime engine, linker and plugin cache shared by every invocation of a process.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<InvocationState>,
    loader: Loader,
    _epoch: EpochTicker,
}

/// How one invocation ended.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<serde_json::Value, Failure>,
    pub duration: Duration,
    /// The S3 calls and bytes it spent.
    pub usage: Usage,
    /// The mutations a dry run did not execute.
    pub planned: Planned,
    /// The last call the backend refused (AWS IAM), if any.
    pub aws_denial: Option<AwsDenial>,
    /// What the plugin printed.
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// An invocation that ended with `result` after `duration`, having called nothing
    /// and printed nothing.
    pub fn ended(result: Result<serde_json::Value, Failure>, duration: Duration) -> Outcome {
        Outcome {
            result,
            duration,
            usage: Usage::default(),
            planned: Planned::default(),
            aws_denial: None,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// An invocation that could not start.
    pub fn failed(failure: Failure) -> Outcome {
        Outcome::ended(Err(failure), Duration::ZERO)
    }
}

/// Why an invocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Plugin(String),
    #[error("time limit of {} s exceeded", .0.as_secs_f64())]
    TimeLimit(Duration),
    #[error("memory limit of {} MiB exceeded", .0 >> 20)]
    MemoryLimit(u64),
    #[error("output of {size} bytes exceeds the limit of {limit} bytes")]
    OutputLimit { size: u64, limit: u64 },
    #[error("{0}")]
    Budget(String),
    #[error("output is not JSON: {0}")]
    InvalidOutput(String),
    #[error("plugin trapped: {0}")]
    Trap(String),
    #[error("{0}")]
    Load(String),
    #[error("{0}")]
    Credentials(String),
    #[error("cancelled by the operator while running")]
    Cancelled,
    #[error("host error: {0}")]
    Host(String),
}

impl Failure {
    /// The short name of this kind of failure, as shown in reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Plugin(_) => "plugin-error",
            Failure::TimeLimit(_) => "time-limit",
            Failure::MemoryLimit(_) => "memory-limit",
            Failure::OutputLimit { .. } => "output-limit",
            Failure::Budget(_) => "limit-exceeded",
            Failure::InvalidOutput(_) => "invalid-output",
            Failure::Trap(_) => "trap",
            Failure::Load(_) => "load",
            Failure::Credentials(_) => "credentials",
            Failure::Cancelled => "cancelled",
            Failure::Host(_) => "host",
        }
    }
}

/// Why a sandbox could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the WebAssembly engine: {0}")]
pub struct SandboxError(String);

impl Sandbox {
    /// Builds the engine for up to `instances` live plugin instances at once; `cache_dir`
    /// holds precompiled plugins, authenticated with the user's key (none: compile every
    /// time); the other [`LoadOptions`] are the defaults.
    pub fn new(cache_dir: Option<PathBuf>, instances: u32) -> Result<Sandbox, SandboxError> {
        let options = LoadOptions {
            cache: cache_dir.and_then(CacheLocation::with_user_key),
            ..LoadOptions::default()
        };
        Sandbox::with_options(options, instances)
    }

    /// Builds the engine for up to `instances` live plugin instances at once, loading
    /// plugins under `options`.
    pub fn with_options(options: LoadOptions, instances: u32) -> Result<Sandbox, SandboxError> {
        let error = |err: wasmtime::Error| SandboxError(format!("{err:#}"));
        // The pool reserves address space per slot up front: size it to the run, not to
        // the largest run imaginable (start-up time grows with it).
        let instances = instances.max(1);
        // Each plugin's own limits are checked when it loads; the engine admits the
        // largest, and the pool holds that much for every instance.
        let per_component = options.largest_component_limits();
        let mut pool = PoolingAllocationConfig::new();
        pool.max_memory_size((MAX_MEMORY_MIB << 20) as usize)
            .total_component_instances(instances)
            .total_core_instances(instances * per_component.core_instances)
            .total_memories(instances * per_component.memories)
            .total_tables(instances * per_component.tables)
            .total_stacks(instances)
            // Slots are reused invocation after invocation: zeroing the first pages in
            // place is cheaper than returning them to the kernel and faulting them back.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES)
            .async_stack_keep_resident(KEEP_RESIDENT_BYTES)
            // One component may not take more than its share of the pool.
            .max_core_instances_per_component(per_component.core_instances)
            .max_memories_per_component(per_component.memories)
            .max_tables_per_component(per_component.tables);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(error)?;
        // Our interfaces only: wasi:io, which `s3` uses, is already linked above.
        fn view(state: &mut InvocationState) -> CapabilityView<'_> {
            CapabilityView {
                capability: &state.capability,
                table: &mut state.table,
            }
        }
        types::add_to_linker::<_, CapabilityData>(&mut linker, view).map_err(error)?;
        accounts::add_to_linker::<_, CapabilityData>(&mut linker, view).map_err(error)?;
        invocation::add_to_linker::<_, CapabilityData>(&mut linker, view).map_err(error)?;
        s3::add_to_linker::<_, CapabilityData>(&mut linker, view).map_err(error)?;
        Ok(Sandbox {
            _epoch: EpochTicker::start(&engine),
            loader: Loader::new(options, &engine),
            engine,
            linker,
        })
    }

    /// Loads plugin `name` from its file.
    pub fn load(&self, name: &str, path: &Path) -> Result<LoadedPlugin, LoadError> {
        self.loader.load(&self.engine, &self.linker, name, path)
    }

    /// Loads every `(name, file)`, as many at once as there are cores, so that one file
    /// that is slow to compile holds up no other; results in the order given.
    pub fn load_all(&self, plugins: &[(String, PathBuf)]) -> Vec<Result<LoadedPlugin, LoadError>> {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(plugins.len());
        let next = AtomicUsize::new(0);
        let mut loaded: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut loaded = Vec::new();
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            let Some((name, path)) = plugins.get(index) else {
                                break;
                            };
                            loaded.push((index, self.load(name, path)));
                        }
                        loaded
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        loaded.sort_by_key(|(index, _)| *index);
        loaded.into_iter().map(|(_, result)| result).collect()
    }

    /// Runs `plugin` once with `input`, reaching the world only through `capability`,
    /// until it returns, fails, hits a limit, or `cancel` fires.
    pub async fn invoke(
        &self,
        plugin: &LoadedPlugin,
        capability: Capability,
        limits: GuestLimits,
        input: &str,
        cancel: &CancellationToken,
    ) -> Outcome {
        let started = Instant::now();
        let in_flight = capability.in_flight();
        let budget = capability.budget();
        let meter = capability.meter();
        let (stdout, stderr) = (CapturedOutput::new("stdout"), CapturedOutput::new("stderr"));
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut store = Store::new(
            &self.engine,
            InvocationState {
                wasi,
                table: ResourceTable::new(),
                capability,
                memory: MemoryLimit::new(limits.memory_bytes),
            },
        );
        store.limiter(|state| &mut state.memory);
        // Guest code yields to the executor at every epoch tick, so the host's timeout
        // below also fires for a guest that never calls the host; the callback itself
        // is the hard stop, for time and for an overspent budget alike.
        let deadline = started + limits.time;
        store.set_epoch_deadline(1);
        let ticking_budget = budget.clone();
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(TimeLimitReached))
            } else if ticking_budget.is_spent() {
                let reason = ticking_budget.overrun_reason().unwrap_or_default();
                Err(wasmtime::Error::new(BudgetExhausted(reason)))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let call = tokio::time::timeout(limits.time, async {
            let instance = plugin
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|err| (Stage::Instantiate, err))?;
            instance
                .call_run(&mut store, input)
                .await
                .map_err(|err| (Stage::Call, err))
        });
        // A cancellation that came first is not raced against the guest's first steps.
        let called = tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            called = call => Some(called),
        };
        let result = match called {
            None => Err(Failure::Cancelled),
            Some(Err(_elapsed)) => Err(Failure::TimeLimit(limits.time)),
            Some(Ok(Err((stage, err)))) => Err(classify(stage, &err, &store, &limits, &stderr)),
            Some(Ok(Ok(Err(message)))) if message.len() as u64 > limits.output_bytes => {
                Err(Failure::OutputLimit {
                    size: message.len() as u64,
                    limit: limits.output_bytes,
                })
            }
            Some(Ok(Ok(Err(message)))) => Err(Failure::Plugin(message)),
            Some(Ok(Ok(Ok(output)))) => parse_output(output, limits.output_bytes),
        };
        // A spent budget ends the invocation as such, whatever the guest made of it.
        let result = match budget.overrun_reason() {
            Some(reason) if !matches!(result, Err(Failure::MemoryLimit(_))) => {
                Err(Failure::Budget(reason))
            }
            _ => result,
        };
        stdout.finish();
        stderr.finish();
        let planned = store.data().capability.planned();
        // Dropping the store ends whatever the plugin left open: unfinished uploads
        // abort, streams close. The invocation is over once the aborts are done and every
        // call it started has ended and been audited.
        drop(store);
        in_flight.settle(IN_FLIGHT_GRACE).await;
        Outcome {
            result,
            duration: started.elapsed(),
            usage: meter.usage(),
            aws_denial: budget.last_backend_denial(),
            planned,
            stdout: stdout.text(),
            stderr: stderr.text(),
        }
    }
}

fn parse_output(output: String, limit: u64) -> Result<serde_json::Value, Failure> {
    let size = output.len() as u64;
    if size > limit {
        return Err(Failure::OutputLimit { size, limit });
    }
    serde_json::from_str(&output).map_err(|err| Failure::InvalidOutput(err.to_string()))
}

/// Names the reason a call into the plugin failed.
/// Where an invocation failed: setting the instance up is the host's part, running it
/// the plugin's.
#[derive(Clone, Copy)]
enum Stage {
    Instantiate,
    Call,
}

fn classify(
    stage: Stage,
    err: &wasmtime::Error,
    store: &Store<InvocationState>,
    limits: &GuestLimits,
    stderr: &CapturedOutput,
) -> Failure {
    // A failed memory.grow surfaces as whatever the guest does next (usually an abort),
    // so the limiter's record is the reliable signal.
    if store.data().memory.exceeded() {
        return Failure::MemoryLimit(limits.memory_bytes);
    }
    if err.chain().any(|cause| cause.is::<TimeLimitReached>()) {
        return Failure::TimeLimit(limits.time);
    }
    match err.downcast_ref::<Trap>() {
        Some(trap) => {
            let stderr = stderr.text();
            let message = trap.to_string();
            // A language runtime's account of why it gave up says more than its trap.
            Failure::Trap(match uncaught_exception(&stderr) {
                Some(exception) => format!("{exception} ({message})"),
                None => match panic_message(&stderr) {
                    Some(panic) => format!("{message} ({panic})"),
                    None => message,
                },
            })
        }
        // A host function refused the guest (a handle it does not hold, a write past
        // its permit): the plugin's fault, told without the wasm backtrace.
        None => match stage {
            Stage::Call => Failure::Trap(err.root_cause().to_string()),
            Stage::Instantiate => Failure::Host(format!("{err:#}")),
        },
    }
}

/// The last Rust panic a guest printed before trapping, if any: `panicked at FILE:LINE:COL:
/// MESSAGE` (the standard hook prints the message on the line after the location).
fn panic_message(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .rposition(|line| line.contains("panicked at "))?;
    let location = &lines[at][lines[at].find("panicked at ")?..];
    let message = lines.get(at + 1).filter(|line| !line.starts_with("note:"));
    Some(match message {
        Some(message) => format!("{} {}", location, message.trim()),
        None => location.trim().to_owned(),
    })
}

/// The exception a Python or JavaScript plugin's `run` let escape, as its runtime printed
/// it before trapping: componentize-py prints the traceback (then panics with a message
/// that names no exception); componentize-js cannot return a thrown non-string as the
/// `err` string and says only that, the exception's message being lost.
fn uncaught_exception(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    if let Some(at) = lines
        .iter()
        .rposition(|line| *line == "Traceback (most recent call last):")
    {
        // The frames are indented; the exception is the first line that is not.
        let exception = lines[at + 1..].iter().find(|line| !line.starts_with(' '))?;
        return Some(format!("uncaught Python exception: {exception}"));
    }
    lines
        .iter()
        .any(|line| line.starts_with("expected a string, received"))
        .then(|| {
            "the JavaScript run threw a non-string, whose message the runtime drops; fix: throw a string, e.g. catch (e) { throw String(e) }"
                .to_owned()
        })
}

/// Marks an invocation stopped by the epoch callback.
#[derive(Debug, thiserror::Error)]
#[error("the invocation's time limit was reached")]
struct TimeLimitReached;

/// Advances the engine's epoch on its own thread, so that even a guest spinning on every
/// executor thread is interrupted.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("xacct-epoch".into())
            .spawn({
                let (engine, stop) = (engine.clone(), stop.clone());
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        // Parked rather than slept, so that dropping the ticker wakes it
                        // at once instead of holding process exit for a tick.
                        std::thread::park_timeout(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_found_in_stderr() {
        let stderr = "thread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\nnote: run with RUST_BACKTRACE=1\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "panicked at src/lib.rs:3:5: boom"
        );
        assert_eq!(panic_message("nothing"), None);
    }

    #[test]
    fn uncaught_exceptions_are_found_in_stderr() {
        let python = "out\nTraceback (most recent call last):\n  File \"/0/app.py\", line 17, in run\n    raise ValueError(x)\nValueError: boom\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\nPython function threw an unexpected exception\n";
        assert_eq!(
            uncaught_exception(python).unwrap(),
            "uncaught Python exception: ValueError: boom"
        );
        let js =
            "expected a string, received [object]\nStack:\n  export_run@initializer.js:3862:45\n";
        assert!(uncaught_exception(js).unwrap().contains("throw String(e)"));
        assert_eq!(
            uncaught_exception("panicked at src/lib.rs:1:1:\nboom"),
            None
        );
    }
}
