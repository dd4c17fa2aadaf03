//! The `salve` command.

fn main() -> std::process::ExitCode {
    salve::cli::main()
}
