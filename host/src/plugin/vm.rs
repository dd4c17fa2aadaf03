//! The WebAssembly virtual machine every plugin runs on (a wasmtime `Engine`, not to be confused
//! with the engines that run plan steps), and the clock that enforces call deadlines.

use super::limits::MAX_WASM_STACK;
use super::memory::HugePageMemories;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, OptLevel};

/// How often the engine's epoch advances: each call is checked against its deadline and the
/// run's interruption at every tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Builds the engine: component model, fuel metering, epoch interruption, bounded stack, and
/// linear memories on huge pages.
pub fn build_vm() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .cranelift_opt_level(OptLevel::Speed)
        .parallel_compilation(true)
        .with_host_memory(Arc::new(HugePageMemories))
        // Copy-on-write images of initial memory need wasmtime's own memories; a plugin's data
        // segments are a few kilobytes, copied at instantiation instead.
        .memory_init_cow(false);
    Engine::new(&config)
}

/// A background thread that advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    /// Set to stop the thread.
    stop: Arc<AtomicBool>,
    /// The thread, joined on drop.
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`'s epoch.
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("salve-plugin-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the plugin epoch thread");
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
            let _ = thread.join();
        }
    }
}
