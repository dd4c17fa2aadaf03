//! salve's build tasks, run as `cargo xtask <task>`.

mod plugins;
mod test;

use anyhow::{Result, bail};
use std::path::PathBuf;

/// What `cargo xtask` was asked to do.
enum Task {
    /// Build every plugin into its `dist/` folder; with `check`, compare instead of writing.
    Plugins { check: bool },
    /// Install what the tests need, then run them (extra arguments go to `cargo test`).
    Test { args: Vec<String> },
}

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// Parses the command line and runs the task.
fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let task = match args.as_slice() {
        ["plugins"] => Task::Plugins { check: false },
        ["plugins", "--check"] => Task::Plugins { check: true },
        ["test", rest @ ..] => Task::Test {
            args: rest.iter().map(|arg| arg.to_string()).collect(),
        },
        _ => bail!(
            "usage: cargo xtask plugins [--check] | cargo xtask test [CARGO TEST ARGS]\n\n  \
             plugins          build every plugin crate into its dist/ folder as a component\n  \
             plugins --check  rebuild and fail if anything in a dist/ folder differs\n  \
             test             install the Debian packages the tests need, then run every test"
        ),
    };
    let workspace = workspace_root();
    match task {
        Task::Plugins { check } => plugins::run(&workspace, check),
        Task::Test { args } => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            test::run(&workspace, &args)
        }
    }
}

/// The workspace's top folder (the parent of this crate's folder). `cargo run` says where the
/// crate is; the folder it was compiled in is only the fallback, since one target folder may
/// serve several checkouts and cargo does not rebuild xtask when the checkout moves.
fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("xtask lives one folder below the workspace root")
        .to_path_buf()
}
