//! `salve generate`: the patch as a Docker build context instead of an image (copa's
//! `generate`), for pipelines that build with `docker build`.

use super::options::PluginOptions;
use super::run_args::RunArgs;
use crate::patch::Delivery;
use crate::patch::context::ContextTarget;
use crate::progress::Progress;
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;

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
        ContextTarget::File(args.output_context.clone())
    };
    let engine = args.run.engine_or_reexec(plugin_options)?;
    args.run
        .execute(engine, Delivery::Context(target), plugin_options)?;
    Ok(())
}
