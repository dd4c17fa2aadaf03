//! Parsing a ~50 MB Trivy report through the sandboxed `trivy` plugin against the same parser
//! compiled natively and called directly, and the sandbox's fixed part of that call: the same
//! report handed to a test plugin that ignores it (fresh instance, the report copied in, an empty
//! manifest out).
//!
//! Run: `cargo bench -p salve --bench report_parse` (generates the report with
//! `fixtures/generate-reports.py` on first use).

use criterion::{Criterion, criterion_group, criterion_main};
use salve::plugin::{PluginRuntime, PluginSource, RuntimeOptions};
use salve_plugin_sdk::Scanner as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How many findings make a Trivy report of about 50 MB.
const FINDINGS: &str = "21000";

/// The generated report, made once and kept in the target folder.
fn report() -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-trivy-{FINDINGS}.json"));
    if !path.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/generate-reports.py");
        let status = Command::new("python3")
            .arg(script)
            .args(["--format", "trivy", "--findings", FINDINGS, "--out"])
            .arg(&path)
            .status()
            .expect("running fixtures/generate-reports.py");
        assert!(status.success());
    }
    std::fs::read(path).unwrap()
}

fn parse(c: &mut Criterion) {
    let report = report();
    eprintln!("report: {} bytes", report.len());
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/trivy.wasm"))
            .unwrap();
    let runtime = PluginRuntime::new(RuntimeOptions::default()).unwrap();
    let plugin = runtime
        .load("trivy", PluginSource::BuiltIn, &bytes)
        .unwrap();
    let scanner = plugin.as_scanner().unwrap();
    let ignoring_bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/dist/hostile.wasm"),
    )
    .unwrap();
    let ignoring = runtime
        .load("hostile", PluginSource::BuiltIn, &ignoring_bytes)
        .unwrap();
    let ignoring = ignoring.as_scanner().unwrap();

    let mut group = c.benchmark_group("trivy_50mb");
    group.sample_size(10);
    group.bench_function("sandboxed", |b| {
        b.iter(|| black_box(scanner.parse(black_box(&report)).unwrap()))
    });
    group.bench_function("native", |b| {
        b.iter(|| black_box(salve_plugin_trivy::Trivy::parse(black_box(&report)).unwrap()))
    });
    group.bench_function("sandboxed_ignoring", |b| {
        b.iter(|| black_box(ignoring.parse(black_box(&report)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
