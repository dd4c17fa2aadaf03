//! The `salve` command.

fn main() -> std::process::ExitCode {
    // The local engine re-runs salve as its sandbox processes; they start before anything else
    // (namespaces must be entered while the process has a single thread).
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = salve::engine::sandbox::dispatch(&args) {
        return code;
    }
    salve::cli::main()
}
