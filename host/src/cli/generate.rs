//! `salve generate`: the patch as a Docker build context instead of an image (copa's
//! `generate`), for pipelines that build with `docker build`.

use super::options::PluginOptions;
use super::run_args::RunArgs;
use crate::patch::Delivery;
use crate::patch::context::ContextTarget;
use crate::progress::Progress;
use anyhow::bail;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `salve generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The image (a registry image, one platform), the report, the engine.
    #[command(flatten)]
    run: RunArgs,

    /// Where to write the build context (a tar: `Dockerfile` and `patch.tar`); `-` writes it to
    /// standard output, for `| docker build -`.
    #[arg(short = 'o', long = "output-context", value_name = "FILE")]
    output_context: PathBuf,
}

/// Runs `salve generate`.
pub fn run(args: GenerateArgs, plugin_options: &PluginOptions) -> anyhow::Result<()> {
    let target = if args.output_context.as_os_str() == "-" {
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            bail!(
                "the build context is a tar archive: pipe it (`| docker build -`) or write it to \
                 a file with -o FILE"
            );
        }
        if args.run.progress() == Progress::Json {
            bail!("--progress json writes to standard output, which -o - already fills");
        }
        ContextTarget::Stdout
    } else {
        check_destination(&args.output_context)?;
        ContextTarget::File(args.output_context.clone())
    };
    let engine = args.run.engine_or_reexec(plugin_options)?;
    args.run
        .execute(engine, Delivery::Context(target), plugin_options)?;
    Ok(())
}

/// Refuses a context file that could not be written, before the run rather than after it: its
/// folder must exist and be writable, and the path must not be a folder.
fn check_destination(path: &Path) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let shown = path.display();
    match std::fs::metadata(folder) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => bail!("cannot write {shown}: {} is not a folder", folder.display()),
        Err(error) => bail!("cannot write {shown}: {}: {error}", folder.display()),
    }
    if path.is_dir() {
        bail!("{shown} is a folder; name the context file to write, as in -o {shown}/context.tar");
    }
    rustix::fs::access(folder, rustix::fs::Access::WRITE_OK)
        .map_err(|error| anyhow::anyhow!("cannot write into {}: {error}", folder.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_destination;

    #[test]
    fn an_unwritable_destination_is_refused_before_the_run() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_destination(&dir.path().join("context.tar")).is_ok());
        let missing = check_destination(&dir.path().join("absent/context.tar")).unwrap_err();
        assert!(missing.to_string().contains("No such file"), "{missing}");
        let folder = check_destination(dir.path()).unwrap_err();
        assert!(folder.to_string().contains("is a folder"), "{folder}");
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let not_folder = check_destination(&file.join("context.tar")).unwrap_err();
        assert!(
            not_folder.to_string().contains("not a folder"),
            "{not_folder}"
        );
    }
}
