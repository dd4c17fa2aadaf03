//! The `salve` command.

fn main() -> std::process::ExitCode {
    // The local engine re-runs salve as its sandbox processes; they start before anything else
    // (namespaces must be entered while the process has a single thread).
    if let Err(error) = salve::engine::rootless::enter_if_child() {
        eprintln!("error: entering salve's user namespace: {error}");
        return std::process::ExitCode::from(125);
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = salve::engine::sandbox::dispatch(&args) {
        return code;
    }
    salve::cli::main()
}
