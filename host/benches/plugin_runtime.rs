//! Plugin runtime costs: loading a plugin with a cold and a warm compiled-code cache, and one
//! trivial call through the sandbox next to the same function called natively.
//!
//! Run: `cargo bench -p salve --bench plugin_runtime`

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use salve::plugin::{PluginRuntime, PluginSource, RuntimeOptions};
use salve_plugin_sdk::Scanner as _;
use std::hint::black_box;
use std::path::Path;

/// The built-in trivy component.
fn trivy_bytes() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/trivy.wasm"))
        .expect("plugins/dist/trivy.wasm (run `cargo xtask plugins`)")
}

/// A runtime whose compiled-code cache lives in `dir`.
fn runtime(dir: &Path) -> PluginRuntime {
    PluginRuntime::new(RuntimeOptions {
        cache_dir: Some(dir.to_path_buf()),
        ..RuntimeOptions::default()
    })
    .unwrap()
}

fn load(c: &mut Criterion) {
    let bytes = trivy_bytes();
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("cold_cache", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let runtime = runtime(dir.path());
                (dir, runtime)
            },
            |(dir, runtime)| {
                black_box(
                    runtime
                        .load("trivy", PluginSource::BuiltIn, &bytes)
                        .unwrap(),
                );
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let dir = tempfile::tempdir().unwrap();
    let warm = runtime(dir.path());
    warm.load("trivy", PluginSource::BuiltIn, &bytes).unwrap();
    c.bench_function("load/warm_cache", |b| {
        b.iter(|| black_box(warm.load("trivy", PluginSource::BuiltIn, &bytes).unwrap()))
    });
}

fn trivial_call(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let plugin = runtime
        .load("trivy", PluginSource::BuiltIn, &trivy_bytes())
        .unwrap();
    let scanner = plugin.as_scanner().unwrap();
    let report = b"{}";
    c.bench_function("call/sniff_sandboxed", |b| {
        b.iter(|| black_box(scanner.sniff(black_box(report)).unwrap()))
    });
    c.bench_function("call/sniff_native", |b| {
        b.iter(|| black_box(salve_plugin_trivy::Trivy::sniff(black_box(report))))
    });
}

criterion_group!(benches, load, trivial_call);
criterion_main!(benches);
