//! The cache folder shared by salve processes: two patches of one image at once, prunes while
//! they run, and the bound each run enforces at its end.

use super::*;
use std::process::{Child, Stdio};
use std::time::Duration;

/// `salve cache du --format json` of a cache folder.
fn usage(cache: &Path) -> Value {
    let (ok, stdout, stderr) = salve_in(cache, &["cache", "du", "--format", "json"], &[]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// The bytes of one kind in `salve cache du`'s JSON.
fn kind_bytes(usage: &Value, kind: &str) -> u64 {
    usage["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["kind"] == kind)
        .unwrap()["bytes"]
        .as_u64()
        .unwrap()
}

/// `salve patch`'s arguments that patch `base` from `report` and push it as `tag`.
fn patch_args<'a>(base: &'a str, report: &'a Path, tag: &'a str) -> Vec<&'a str> {
    vec![
        "-i",
        base,
        "-r",
        report.to_str().unwrap(),
        "-t",
        tag,
        "--push",
    ]
}

/// Starts `salve patch` on the local engine in the background.
fn start_patch(cache: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_salve"))
        .arg("patch")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_patches_of_one_image_at_once_share_the_cache_through_prunes_and_leave_it_under_its_bound() {
    let case = report_case("cached", 1);
    let cache = case.cache.path();
    let (base, report, chosen) = (&case.base, &case.report, &case.chosen);

    // Leftovers of a killed run: a working folder whose owner is gone, a half-unpacked tree.
    let killed = cache.join("work/patch-killed");
    std::fs::create_dir_all(&killed).unwrap();
    std::fs::write(killed.join("owner.lock"), b"").unwrap();
    std::fs::create_dir_all(cache.join("rootfs/.partial-sha256-dead/usr")).unwrap();

    // A bound the image's root filesystem alone is over.
    let bound = "32MiB";
    let runs: Vec<(String, Child)> = ["one", "two"]
        .iter()
        .map(|tag| {
            let mut args = patch_args(base, report, tag);
            args.extend(["--cache-max-size", bound]);
            let repository = base.rsplit_once(':').unwrap().0;
            (format!("{repository}:{tag}"), start_patch(cache, &args))
        })
        .collect();
    let mut runs: Vec<(String, Option<Child>, Option<std::process::Output>)> = runs
        .into_iter()
        .map(|(name, child)| (name, Some(child), None))
        .collect();

    // Prunes of everything while they run: each succeeds and removes nothing they hold.
    let mut prunes_that_met_a_run = 0;
    while runs.iter().any(|(_, child, _)| child.is_some()) {
        let (ok, stdout, stderr) = salve_in(cache, &["cache", "prune", "--all"], &[]);
        assert!(ok, "a prune while patches run: {stderr}");
        if stdout.contains("held by running salve processes") {
            prunes_that_met_a_run += 1;
        }
        for (_, child, output) in &mut runs {
            if child
                .as_mut()
                .is_some_and(|c| c.try_wait().unwrap().is_some())
            {
                *output = Some(child.take().unwrap().wait_with_output().unwrap());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(prunes_that_met_a_run > 0, "no prune ran while a patch did");
    for (name, _, output) in &runs {
        let output = output.as_ref().unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let patched = read_back(name, cache);
        assert_all_fixed(&status_of(&patched.layers), chosen);
    }

    // Nothing of the runs is left, nor what the killed one left, and the cache is under the
    // bound the runs were given.
    let after = usage(cache);
    assert_eq!(kind_bytes(&after, "work"), 0, "{after}");
    assert!(!killed.exists());
    assert!(!cache.join("rootfs/.partial-sha256-dead").exists());
    assert!(
        after["total"]["bytes"].as_u64().unwrap() <= 32 << 20,
        "over the bound: {after}"
    );

    // A patch with the default bound keeps its root filesystem; a prune to zero removes it.
    let patch_to = |tag: &str| {
        let args = [&["patch"][..], &patch_args(base, report, tag)].concat();
        salve(&Engine::Local, &args, cache)
    };
    let (ok, _, stderr) = patch_to("three");
    assert!(ok, "{stderr}");
    let kept = usage(cache);

    // The next patch of the image reads its package databases from that root filesystem,
    // not from the layers, and patches the same.
    let (ok, _, stderr) = patch_to("four");
    assert!(ok, "{stderr}");
    assert!(
        stderr
            .contains("reading package databases from the root filesystem an earlier run unpacked"),
        "{stderr}"
    );
    let repository = base.rsplit_once(':').unwrap().0;
    let warm = read_back(&format!("{repository}:four"), cache);
    assert_all_fixed(&status_of(&warm.layers), chosen);
    assert!(kind_bytes(&kept, "rootfs") > 32 << 20, "{kept}");
    let (ok, stdout, stderr) = salve_in(cache, &["cache", "prune", "--max-size", "0"], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("rootfs"), "{stdout}");
    assert_eq!(usage(cache)["total"]["bytes"], 0);
}
