//! The plan as an LLB graph: image sources, one exec per step, tmpfs over the paths kept out of
//! the layer, read-only files over the image's (mirrored package sources), and a results folder
//! (scratch, or holding the CA bundle) at `/salve-results`. Only ops BuildKit v0.8 has: no
//! MergeOp or DiffOp.
//!
//! Without a tooling image each step runs in the target (`/` is the target); with one, `/` is
//! the tooling image and the target is mounted at `/target`. Each step's outputs are the next
//! step's inputs. Paths kept out of the layer are mounts of their own (scratch at first), so
//! what one step leaves there (package lists) the next step sees, as in the local engine. Two definitions share the ops: one ends at the target after the last step
//! (the image BuildKit exports with the new layers), the other at the results folder.

use super::api::pb;
use crate::engine::CA_BUNDLE;
use crate::engine::spec::RESULTS_MOUNT;
use crate::mirror::sources::RewrittenFile;
use crate::plugin::types::UpdatePlan;
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The op metadata key BuildKit shows as an op's name in its progress.
const CUSTOM_NAME: &str = "llb.customname";

/// Mount input or output meaning "none" (scratch for an input, no output for an output).
const NONE: i64 = -1;

/// What the graph is built from.
pub struct GraphInput<'a> {
    /// The plan.
    pub plan: &'a UpdatePlan,
    /// The target image, as BuildKit pulls it (`REPOSITORY@DIGEST` or a local name).
    pub target: &'a str,
    /// The tooling image, when the plan runs there with the target at `/target`.
    pub tooling: Option<&'a str>,
    /// The image's platform.
    pub platform: pb::Platform,
    /// Variables every step gets (before its own).
    pub environment: &'a [(String, String)],
    /// Proxy settings passed to every step.
    pub proxies: pb::ProxyEnv,
    /// A CA bundle placed at `/salve-results/.salve/ca-bundle.crt`.
    pub ca_bundle: Option<&'a [u8]>,
    /// The network of steps that need one (`Unset`: the daemon's sandbox, or `Host`).
    pub network: pb::NetMode,
    /// Files every step sees read-only in place of the image's (mirrored package sources), at
    /// the paths the steps see them.
    pub overlaid_files: &'a [RewrittenFile],
}

/// The graph, as two definitions over the same ops.
pub struct Graph {
    /// Ends at the target after the last step.
    pub target: pb::Definition,
    /// Ends at the results folder after the last step.
    pub results: pb::Definition,
    /// The digest of each step's exec op, in plan order.
    pub steps: Vec<String>,
}

/// Ops as marshaled, in order of creation.
#[derive(Default)]
struct Ops {
    /// Marshaled ops.
    encoded: Vec<Vec<u8>>,
    /// The names the daemon shows for ops (its progress shows an exec's whole command line
    /// otherwise, a plugin's script included), by digest.
    names: BTreeMap<String, String>,
}

impl Ops {
    /// Adds an op; returns its digest.
    fn add(&mut self, op: &pb::Op) -> String {
        let bytes = op.encode_to_vec();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        self.encoded.push(bytes);
        digest
    }

    /// A definition of all ops ending at `result`.
    fn definition(&self, result: pb::Input) -> pb::Definition {
        let terminal = pb::Op {
            inputs: vec![result],
            ..Default::default()
        };
        let mut def = self.encoded.clone();
        def.push(terminal.encode_to_vec());
        let metadata = self
            .names
            .iter()
            .map(|(digest, name)| {
                let description = [(CUSTOM_NAME.to_string(), name.clone())].into();
                let metadata = pb::OpMetadata {
                    description,
                    ..Default::default()
                };
                (digest.clone(), metadata)
            })
            .collect();
        pb::Definition { def, metadata }
    }
}

/// Output `index` of the op `digest`.
fn output(digest: &str, index: i64) -> pb::Input {
    pb::Input {
        digest: digest.to_string(),
        index,
    }
}

/// Builds the graph.
pub fn build(input: &GraphInput<'_>) -> Graph {
    let mut ops = Ops::default();
    let image = |ops: &mut Ops, reference: &str| {
        let op = pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: format!("docker-image://{reference}"),
                attrs: Default::default(),
            })),
            platform: Some(input.platform.clone()),
            ..Default::default()
        };
        output(&ops.add(&op), 0)
    };
    let mut target = image(&mut ops, input.target);
    let mut tooling = input.tooling.map(|reference| image(&mut ops, reference));
    let mut results = input.ca_bundle.map(|bundle| results_with(&mut ops, bundle));
    let mut kept_out: Vec<Option<pb::Input>> = vec![None; input.plan.exclude_paths.len()];
    let target_at = if tooling.is_some() { "/target" } else { "" };
    let overlaid = overlaid_files(&mut ops, input.overlaid_files);

    let mut steps = Vec::new();
    for step in &input.plan.steps {
        let mut inputs = Vec::new();
        let mut mounts = Vec::new();
        let mut mount = |inputs: &mut Vec<pb::Input>, source: Option<&pb::Input>, dest: &str| {
            let input = match source {
                Some(source) => {
                    inputs.push(source.clone());
                    inputs.len() as i64 - 1
                }
                None => NONE,
            };
            mounts.push(pb::Mount {
                input,
                dest: dest.to_string(),
                output: mounts.len() as i64,
                ..Default::default()
            });
        };
        match &tooling {
            Some(root) => {
                mount(&mut inputs, Some(root), "/");
                mount(&mut inputs, Some(&target), "/target");
            }
            None => mount(&mut inputs, Some(&target), "/"),
        }
        mount(&mut inputs, results.as_ref(), RESULTS_MOUNT);
        for (path, previous) in input.plan.exclude_paths.iter().zip(&kept_out) {
            let dest = format!("{target_at}/{}", path.trim_start_matches('/'));
            mount(&mut inputs, previous.as_ref(), &dest);
        }
        if let Some(files) = &overlaid {
            // Read-only, so they give no outputs and the outputs above keep their indexes.
            inputs.push(files.clone());
            for (index, file) in input.overlaid_files.iter().enumerate() {
                mounts.push(pb::Mount {
                    input: inputs.len() as i64 - 1,
                    selector: format!("/{index}"),
                    dest: file.path.clone(),
                    output: NONE,
                    readonly: true,
                    ..Default::default()
                });
            }
        }
        let base = crate::engine::STEP_BASE_ENVIRONMENT
            .iter()
            .map(|(name, value)| format!("{name}={value}"));
        let env: Vec<String> = base
            .chain(
                input
                    .environment
                    .iter()
                    .chain(&step.env)
                    .map(|(name, value)| format!("{name}={value}")),
            )
            .collect();
        let network = if step.network {
            input.network
        } else {
            pb::NetMode::None
        };
        let exec = pb::Op {
            inputs,
            op: Some(pb::op::Op::Exec(pb::ExecOp {
                meta: Some(pb::Meta {
                    args: step.argv.clone(),
                    env,
                    cwd: "/".into(),
                    proxy_env: Some(input.proxies.clone()),
                    remove_mount_stubs_recursive: true,
                    ..Default::default()
                }),
                mounts,
                network: network as i32,
                security: pb::SecurityMode::Sandbox as i32,
            })),
            platform: Some(input.platform.clone()),
        };
        let digest = ops.add(&exec);
        ops.names
            .insert(digest.clone(), crate::engine::describe_step(&step.argv));
        let mut outputs = (0..).map(|index| output(&digest, index));
        if let Some(root) = &mut tooling {
            *root = outputs.next().expect("endless");
        }
        target = outputs.next().expect("endless");
        results = outputs.next();
        for kept in &mut kept_out {
            *kept = outputs.next();
        }
        steps.push(digest);
    }
    let results = results.expect("a plan to run has steps");
    Graph {
        target: ops.definition(target),
        results: ops.definition(results),
        steps,
    }
}

/// A scratch folder holding each file at `/INDEX` (its place in `files`), to be mounted file by
/// file; `None` without files.
fn overlaid_files(ops: &mut Ops, files: &[RewrittenFile]) -> Option<pb::Input> {
    if files.is_empty() {
        return None;
    }
    let last = files.len() - 1;
    let actions = files
        .iter()
        .enumerate()
        .map(|(index, file)| pb::FileAction {
            // Scratch for the first; then the result of the action before (the op has no
            // inputs, so action results are numbered from 0).
            input: if index == 0 { NONE } else { index as i64 - 1 },
            secondary_input: NONE,
            output: if index == last { 0 } else { NONE },
            action: Some(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                path: format!("/{index}"),
                mode: 0o644,
                data: file.content.clone(),
                timestamp: 0,
            })),
        })
        .collect();
    let op = pb::Op {
        op: Some(pb::op::Op::File(pb::FileOp { actions })),
        ..Default::default()
    };
    Some(output(&ops.add(&op), 0))
}

/// A scratch folder holding the CA bundle at [`CA_BUNDLE`].
fn results_with(ops: &mut Ops, bundle: &[u8]) -> pb::Input {
    let (folder, _) = CA_BUNDLE.rsplit_once('/').expect("a file in a folder");
    let mkdir = pb::FileAction {
        input: NONE,
        secondary_input: NONE,
        output: NONE,
        action: Some(pb::file_action::Action::Mkdir(pb::FileActionMkDir {
            path: format!("/{folder}"),
            mode: 0o755,
            make_parents: true,
            timestamp: 0,
        })),
    };
    let mkfile = pb::FileAction {
        // The result of action 0 (the op has no inputs).
        input: 0,
        secondary_input: NONE,
        output: 0,
        action: Some(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
            path: format!("/{CA_BUNDLE}"),
            mode: 0o644,
            data: bundle.to_vec(),
            timestamp: 0,
        })),
    };
    let op = pb::Op {
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: vec![mkdir, mkfile],
        })),
        ..Default::default()
    };
    output(&ops.add(&op), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::types::Step as PlanStep;

    fn plan() -> UpdatePlan {
        let step = |argv: &[&str], network| PlanStep {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![("DEBIAN_FRONTEND".into(), "noninteractive".into())],
            network,
            on_failure: None,
        };
        UpdatePlan {
            steps: vec![
                step(&["apt-get", "update"], true),
                step(&["dpkg", "--configure", "-a"], false),
            ],
            exclude_paths: vec!["/var/lib/apt/lists".into()],
            database_paths: vec!["/var/lib/dpkg/status".into()],
            warnings: Vec::new(),
        }
    }

    fn input<'a>(plan: &'a UpdatePlan, tooling: Option<&'a str>) -> GraphInput<'a> {
        GraphInput {
            plan,
            target: "127.0.0.1:5000/app@sha256:00",
            tooling,
            platform: pb::Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                variant: String::new(),
            },
            environment: &[],
            proxies: pb::ProxyEnv::default(),
            ca_bundle: None,
            network: pb::NetMode::Unset,
            overlaid_files: &[],
        }
    }

    fn decode(definition: &pb::Definition) -> Vec<pb::Op> {
        definition
            .def
            .iter()
            .map(|bytes| pb::Op::decode(bytes.as_slice()).unwrap())
            .collect()
    }

    fn exec(op: &pb::Op) -> &pb::ExecOp {
        match &op.op {
            Some(pb::op::Op::Exec(exec)) => exec,
            other => panic!("not an exec: {other:?}"),
        }
    }

    #[test]
    fn steps_chain_on_the_target_with_tmpfs_and_results() {
        let plan = plan();
        let graph = build(&input(&plan, None));
        let ops = decode(&graph.target);
        assert_eq!(ops.len(), 4, "source, two execs, terminal");
        let first = exec(&ops[1]);
        assert_eq!(first.meta.as_ref().unwrap().args, ["apt-get", "update"]);
        assert!(
            first
                .meta
                .as_ref()
                .unwrap()
                .env
                .contains(&"DEBIAN_FRONTEND=noninteractive".to_string())
        );
        assert_eq!(first.network, pb::NetMode::Unset as i32);
        let dests: Vec<&str> = first.mounts.iter().map(|m| m.dest.as_str()).collect();
        assert_eq!(dests, ["/", RESULTS_MOUNT, "/var/lib/apt/lists"]);
        assert_eq!(first.mounts[1].input, NONE, "results start as scratch");
        assert_eq!(
            first.mounts[2].input, NONE,
            "kept-out paths start as scratch"
        );
        let second = exec(&ops[2]);
        assert_eq!(second.network, pb::NetMode::None as i32, "no network asked");
        assert_eq!(ops[2].inputs[0], output(&graph.steps[0], 0));
        assert_eq!(ops[2].inputs[1], output(&graph.steps[0], 1));
        assert_eq!(
            ops[2].inputs[2],
            output(&graph.steps[0], 2),
            "the lists the first step fetched stay for the second"
        );
        assert_eq!(ops[3].inputs, [output(&graph.steps[1], 0)]);
        let results = decode(&graph.results);
        assert_eq!(results.last().unwrap().inputs, [output(&graph.steps[1], 1)]);
    }

    #[test]
    fn a_tooling_image_is_root_with_the_target_mounted() {
        let plan = plan();
        let graph = build(&input(&plan, Some("127.0.0.1:5000/tools@sha256:11")));
        let ops = decode(&graph.target);
        let first = exec(&ops[2]);
        let dests: Vec<&str> = first.mounts.iter().map(|m| m.dest.as_str()).collect();
        assert_eq!(
            dests,
            ["/", "/target", RESULTS_MOUNT, "/target/var/lib/apt/lists"]
        );
        assert_eq!(ops.last().unwrap().inputs, [output(&graph.steps[1], 1)]);
    }

    #[test]
    fn mirrored_sources_are_read_only_files_over_the_images() {
        let plan = plan();
        let files = [
            RewrittenFile {
                path: "/target/etc/apt/sources.list".into(),
                content: b"deb http://mirror/debian bookworm main\n".to_vec(),
            },
            RewrittenFile {
                path: "/etc/apt/sources.list.d/debian.sources".into(),
                content: b"URIs: http://mirror/debian\n".to_vec(),
            },
        ];
        let mut with_files = input(&plan, Some("127.0.0.1:5000/tools@sha256:11"));
        with_files.overlaid_files = &files;
        let graph = build(&with_files);
        let ops = decode(&graph.target);
        let Some(pb::op::Op::File(made)) = &ops[2].op else {
            panic!("the files come third: {:?}", ops[2]);
        };
        assert_eq!(made.actions.len(), 2);
        let first = exec(&ops[3]);
        let overlaid: Vec<(&str, &str, bool, i64)> = first.mounts[4..]
            .iter()
            .map(|m| (m.dest.as_str(), m.selector.as_str(), m.readonly, m.output))
            .collect();
        assert_eq!(
            overlaid,
            [
                ("/target/etc/apt/sources.list", "/0", true, NONE),
                ("/etc/apt/sources.list.d/debian.sources", "/1", true, NONE),
            ]
        );
        assert_eq!(
            ops.last().unwrap().inputs,
            [output(&graph.steps[1], 1)],
            "the target is still the second output"
        );
    }

    #[test]
    fn the_same_plan_gives_the_same_digests() {
        let plan = plan();
        let bundle = b"-----BEGIN CERTIFICATE-----".as_slice();
        let mut with_bundle = input(&plan, None);
        with_bundle.ca_bundle = Some(bundle);
        let first = build(&with_bundle);
        let second = build(&with_bundle);
        assert_eq!(first.steps, second.steps);
        assert_eq!(first.target, second.target);
        let ops = decode(&first.target);
        assert!(matches!(ops[1].op, Some(pb::op::Op::File(_))));
    }
}
