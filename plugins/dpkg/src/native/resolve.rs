//! Resolution: which version of each package to install, as apt would choose it, and what else
//! must move with it. The candidate of a package is the version of highest pin priority (then
//! highest version) for the image's architecture or `all`; the closure adds what `Depends` and
//! `Pre-Depends` need, upgrades installed packages whose dependencies or `Breaks`/`Conflicts` the
//! change would violate (packages that move in lockstep, such as `perl`, `perl-base` and
//! `libperl5.36`) and installed packages a planned one recommends at a newer version (as apt
//! does), and refuses anything apt would solve by removing a package.

use super::index::Available;
use super::pinning::{self, Pin};
use super::relations::{self, Clauses, Dependency};
use crate::version;
use salve_plugin_sdk::NativeError;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An installed package, as resolution sees it.
#[derive(Clone, Debug)]
pub struct Installed {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture`.
    pub architecture: String,
    /// `Depends` and `Pre-Depends`.
    pub depends: Clauses,
    /// `Breaks` and `Conflicts`.
    pub breaks: Clauses,
    /// `Provides`.
    pub provides: Clauses,
    /// Held (`Status: hold ...`).
    pub held: bool,
}

/// What resolution asks for.
pub struct Goal<'a> {
    /// (package, fixed version) to reach; empty: upgrade everything upgradable.
    pub updates: Vec<(&'a str, &'a str)>,
    /// The image's architecture (dpkg's name: `amd64`, `arm64`, `armhf`).
    pub architecture: &'a str,
    /// The image holds parts of packages (a Chiseled image): a dependency on a package it does
    /// not have holds, as Chisel leaves dependencies to its slices.
    pub partial: bool,
}

/// A package version chosen for installation.
#[derive(Clone, Debug)]
pub struct Chosen<'a> {
    /// The version from the index.
    pub package: &'a Available<'a>,
    /// The installed version it replaces; none when new.
    pub replaces: Option<String>,
}

/// The resolution's answer.
#[derive(Debug)]
pub struct Resolved<'a> {
    /// The packages to install, by name.
    pub chosen: Vec<Chosen<'a>>,
    /// Notes: packages kept back.
    pub warnings: Vec<String>,
}

/// The package world: what is installed and what the repositories offer.
struct World<'a> {
    installed: BTreeMap<&'a str, &'a Installed>,
    offered: HashMap<&'a str, Vec<&'a Available<'a>>>,
    pins: &'a [Pin],
    architecture: &'a str,
    /// Parsed relations of offered versions, by (name, version).
    relations: HashMap<(&'a str, &'a str), OfferedRelations>,
    /// Dependencies on packages the image does not have hold ([`Goal::partial`]).
    partial: bool,
}

/// The relations of an offered version.
#[derive(Clone, Debug, Default)]
struct OfferedRelations {
    depends: Clauses,
    recommends: Clauses,
    breaks: Clauses,
    provides: Clauses,
}

/// Resolves `goal` against `installed` and the `available` versions.
pub fn resolve<'a>(
    installed: &'a [Installed],
    available: &'a [Available<'a>],
    pins: &'a [Pin],
    goal: &Goal<'a>,
) -> Result<Resolved<'a>, NativeError> {
    let mut by_name: BTreeMap<&str, &Installed> = BTreeMap::new();
    for package in installed {
        if let Some(other) = by_name.insert(&package.name, package) {
            return Err(NativeError::Unsupported(format!(
                "{} is installed for two architectures ({} and {}); native installation \
                 handles one architecture per package",
                package.name, other.architecture, package.architecture
            )));
        }
    }
    let mut offered: HashMap<&str, Vec<&Available>> = HashMap::new();
    for package in available {
        offered.entry(package.name).or_default().push(package);
    }
    let world = World {
        installed: by_name,
        offered,
        pins,
        architecture: goal.architecture,
        relations: HashMap::new(),
        partial: goal.partial,
    };
    resolve_in(world, goal).map_err(NativeError::Failed)
}

/// [`resolve`] in a world made.
fn resolve_in<'a>(mut world: World<'a>, goal: &Goal<'a>) -> Result<Resolved<'a>, String> {
    let update_all = goal.updates.is_empty();
    let mut kept_back: BTreeSet<String> = BTreeSet::new();
    let mut warnings = Vec::new();
    loop {
        let mut targets = Vec::new();
        if update_all {
            for package in world.installed.values() {
                if package.held || kept_back.contains(&package.name) {
                    continue;
                }
                if let Some(candidate) = world.candidate(&package.name)?
                    && newer(candidate.version, &package.version)
                {
                    targets.push(candidate);
                }
            }
        } else {
            for (name, fixed) in &goal.updates {
                let Some(current) = world.installed.get(name) else {
                    return Err(format!("{name} is not installed in the image"));
                };
                if current.held {
                    continue;
                }
                if !newer(fixed, &current.version) {
                    continue;
                }
                let candidate = world.candidate(name)?.ok_or_else(|| {
                    format!(
                        "the image's repositories offer no newer {name} than {}",
                        current.version
                    )
                })?;
                if version::compare_text(candidate.version, fixed)?.is_lt() {
                    return Err(format!(
                        "the newest {name} in the image's repositories is {}, below the fixed \
                         version {fixed}",
                        candidate.version
                    ));
                }
                targets.push(candidate);
            }
        }
        match world.closure(&targets, update_all)? {
            Closure::Done(planned) => {
                let chosen = planned
                    .into_values()
                    .map(|package| Chosen {
                        package,
                        replaces: world
                            .installed
                            .get(package.name)
                            .map(|installed| installed.version.clone()),
                    })
                    .collect();
                return Ok(Resolved { chosen, warnings });
            }
            Closure::KeepBack { package, needs } => {
                warnings.push(format!(
                    "{package} is kept back: its upgrade needs {needs}, which is not installed \
                     (as apt-get upgrade does; name it in a report to install it)"
                ));
                kept_back.insert(package);
            }
        }
    }
}

/// How a closure ended.
enum Closure<'a> {
    /// Every relation holds with these versions planned.
    Done(BTreeMap<&'a str, &'a Available<'a>>),
    /// In update-all mode, `package` needs a new package `needs`: keep it back and start again.
    KeepBack { package: String, needs: String },
}

/// Whether version `a` is newer than `b` (an unparsable version is never newer).
fn newer(a: &str, b: &str) -> bool {
    version::compare_text(a, b).is_ok_and(|order| order.is_gt())
}

impl<'a> World<'a> {
    /// The version apt would install for `name`: highest priority, then highest version, for
    /// the installed architecture (or the image's) or `all`; none when nothing beats what is
    /// installed.
    fn candidate(&self, name: &str) -> Result<Option<&'a Available<'a>>, String> {
        let installed = self.installed.get(name);
        let architecture = installed.map_or(self.architecture, |p| p.architecture.as_str());
        let mut best: Option<(i32, &Available)> = None;
        for offer in self.offered.get(name).into_iter().flatten() {
            if offer.architecture != architecture && offer.architecture != "all" {
                continue;
            }
            let priority =
                pinning::priority(self.pins, name, offer.version, offer.release, offer.archive);
            if priority < 0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((best_priority, best_offer)) => {
                    priority > best_priority
                        || priority == best_priority
                            && version::compare_text(offer.version, best_offer.version)?.is_gt()
                }
            };
            if better {
                best = Some((priority, offer));
            }
        }
        Ok(best.and_then(|(priority, offer)| match installed {
            Some(current) => {
                let order = version::compare_text(offer.version, &current.version).ok()?;
                (order.is_gt() || order.is_lt() && priority >= 1000).then_some(offer)
            }
            None => Some(offer),
        }))
    }

    /// Whether the image has a package some alternative of `clause` names.
    fn has_any(&self, clause: &[Dependency]) -> bool {
        clause
            .iter()
            .any(|dependency| self.installed.contains_key(dependency.name.as_str()))
    }

    /// The parsed relations of an offered version.
    fn relations_of(&mut self, offer: &'a Available<'a>) -> Result<OfferedRelations, String> {
        let key = (offer.name, offer.version);
        if let Some(relations) = self.relations.get(&key) {
            return Ok(relations.clone());
        }
        let context = |error: String| format!("{} {}: {error}", offer.name, offer.version);
        let mut depends = relations::parse(offer.pre_depends).map_err(context)?;
        depends.extend(relations::parse(offer.depends).map_err(context)?);
        let mut breaks = relations::parse(offer.breaks).map_err(context)?;
        breaks.extend(relations::parse(offer.conflicts).map_err(context)?);
        let provides = relations::parse(offer.provides).map_err(context)?;
        let recommends = relations::parse(offer.recommends).map_err(context)?;
        let relations = OfferedRelations {
            depends,
            recommends,
            breaks,
            provides,
        };
        self.relations.insert(key, relations.clone());
        Ok(relations)
    }

    /// Plans `targets` and everything they need.
    fn closure(
        &mut self,
        targets: &[&'a Available<'a>],
        update_all: bool,
    ) -> Result<Closure<'a>, String> {
        let mut planned: BTreeMap<&'a str, &'a Available<'a>> =
            targets.iter().map(|offer| (offer.name, *offer)).collect();
        // What already does not hold in the image is not the update's to mend.
        let before = self.state(&BTreeMap::new())?;
        loop {
            let mut added: Vec<&'a Available<'a>> = Vec::new();
            let state = self.state(&planned)?;
            // What the planned versions need.
            for offer in planned.values() {
                for clause in &self.relations_of(offer)?.depends {
                    if state.satisfies(clause) || self.partial && !self.has_any(clause) {
                        continue;
                    }
                    let pick = self.pick(clause, &planned)?.ok_or_else(|| {
                        format!(
                            "{} {} needs {}, which neither the image nor its repositories have",
                            offer.name,
                            offer.version,
                            show(clause)
                        )
                    })?;
                    if update_all && !self.installed.contains_key(pick.name) {
                        return Ok(Closure::KeepBack {
                            package: offer.name.to_string(),
                            needs: pick.name.to_string(),
                        });
                    }
                    added.push(pick);
                }
                // apt upgrades an installed package that a planned one recommends at a newer
                // version, even with --no-install-recommends (which only keeps new ones out).
                for clause in &self.relations_of(offer)?.recommends {
                    if state.satisfies(clause) {
                        continue;
                    }
                    for dependency in clause {
                        if !self.installed.contains_key(dependency.name.as_str())
                            || planned.contains_key(dependency.name.as_str())
                        {
                            continue;
                        }
                        if let Some(candidate) = self.candidate(&dependency.name)?
                            && dependency.accepts(candidate.version)
                        {
                            added.push(candidate);
                            break;
                        }
                    }
                }
            }
            // What installed packages left as they are need of the planned ones.
            let installed: Vec<&'a Installed> = self.installed.values().copied().collect();
            for package in installed {
                if planned.contains_key(package.name.as_str()) {
                    continue;
                }
                let broken = package
                    .depends
                    .iter()
                    .find(|clause| before.satisfies(clause) && !state.satisfies(clause));
                if let Some(clause) = broken {
                    added.push(self.lockstep(
                        package,
                        &planned,
                        &format!("needs {}", show(clause)),
                    )?);
                }
            }
            // Breaks and Conflicts, both ways.
            for (name, version, breaks) in state.breakers() {
                for dependency in breaks.iter().flatten() {
                    if dependency.name == name {
                        continue;
                    }
                    let Some(hit) = state.version_of(&dependency.name) else {
                        continue;
                    };
                    let held_before = before.version_of(name) == Some(version)
                        && before.version_of(&dependency.name) == Some(hit);
                    if !dependency.accepts(hit) || held_before {
                        continue;
                    }
                    // Move whichever side is not planned yet.
                    let (mover, reason) = if !planned.contains_key(dependency.name.as_str()) {
                        (
                            dependency.name.as_str(),
                            format!("{name} {version} breaks {dependency}"),
                        )
                    } else if !planned.contains_key(name) {
                        (name, format!("it breaks {} {hit}", dependency.name))
                    } else {
                        return Err(format!(
                            "{name} {version} breaks {} {hit}, and both are the newest the \
                             repositories have; apt would remove one, which salve refuses",
                            dependency.name
                        ));
                    };
                    let installed = self.installed.get(mover).copied().ok_or_else(|| {
                        format!("{reason}; apt would remove it, which salve refuses")
                    })?;
                    added.push(self.lockstep(installed, &planned, &reason)?);
                }
            }
            let mut grew = false;
            for offer in added {
                if let Some(previous) = planned.insert(offer.name, offer) {
                    if previous.version != offer.version {
                        return Err(format!(
                            "{} is needed at both {} and {}",
                            offer.name, previous.version, offer.version
                        ));
                    }
                } else {
                    grew = true;
                }
            }
            if !grew {
                return Ok(Closure::Done(planned));
            }
        }
    }

    /// The upgrade of installed `package` that a change forces (`reason`), or the refusal
    /// naming both.
    fn lockstep(
        &mut self,
        package: &Installed,
        planned: &BTreeMap<&'a str, &'a Available<'a>>,
        reason: &str,
    ) -> Result<&'a Available<'a>, String> {
        let changes: Vec<String> = planned
            .values()
            .map(|offer| format!("{} {}", offer.name, offer.version))
            .collect();
        if package.held {
            return Err(format!(
                "installing {} means upgrading {} ({reason}), which the image holds",
                changes.join(", "),
                package.name
            ));
        }
        self.candidate(&package.name)?.ok_or_else(|| {
            format!(
                "installing {} would break {} {} ({reason}), and the repositories have no newer \
                 {}; apt would remove it, which salve refuses",
                changes.join(", "),
                package.name,
                package.version,
                package.name
            )
        })
    }

    /// The version to install for an unsatisfied clause: the first alternative whose candidate
    /// satisfies it (an upgrade of an installed package, or a new one), else a provider.
    fn pick(
        &self,
        clause: &[Dependency],
        planned: &BTreeMap<&'a str, &'a Available<'a>>,
    ) -> Result<Option<&'a Available<'a>>, String> {
        for dependency in clause {
            if planned.contains_key(dependency.name.as_str()) {
                continue;
            }
            if let Some(candidate) = self.candidate(&dependency.name)?
                && dependency.accepts(candidate.version)
            {
                return Ok(Some(candidate));
            }
        }
        for dependency in clause
            .iter()
            .filter(|dependency| dependency.version.is_none())
        {
            let mut providers: Vec<&&Available> = self
                .offered
                .values()
                .flatten()
                .filter(|offer| {
                    offer.provides.split(',').any(|provided| {
                        provided.split(['(', ':']).next().unwrap_or_default().trim()
                            == dependency.name
                    })
                })
                .collect();
            providers.sort_by_key(|offer| offer.name);
            for provider in providers {
                if let Some(candidate) = self.candidate(provider.name)? {
                    return Ok(Some(candidate));
                }
            }
        }
        Ok(None)
    }

    /// The package state with `planned` installed over what is.
    fn state(&mut self, planned: &BTreeMap<&'a str, &'a Available<'a>>) -> Result<State, String> {
        let mut packages: BTreeMap<String, (String, Clauses, Clauses)> = BTreeMap::new();
        for package in self.installed.values() {
            packages.insert(
                package.name.clone(),
                (
                    package.version.clone(),
                    package.breaks.clone(),
                    package.provides.clone(),
                ),
            );
        }
        for offer in planned.values() {
            let relations = self.relations_of(offer)?;
            packages.insert(
                offer.name.to_string(),
                (
                    offer.version.to_string(),
                    relations.breaks,
                    relations.provides,
                ),
            );
        }
        Ok(State { packages })
    }
}

/// Installed-plus-planned versions, with their `Breaks`/`Conflicts` and `Provides`.
struct State {
    packages: BTreeMap<String, (String, Clauses, Clauses)>,
}

impl State {
    /// The version of `name` in this state.
    fn version_of(&self, name: &str) -> Option<&str> {
        self.packages
            .get(name)
            .map(|(version, _, _)| version.as_str())
    }

    /// Whether some alternative of `clause` holds: the package at an accepted version, or a
    /// package providing it (at an accepted version, when the clause has one).
    fn satisfies(&self, clause: &[Dependency]) -> bool {
        clause.iter().any(|dependency| {
            self.version_of(&dependency.name)
                .is_some_and(|version| dependency.accepts(version))
                || self.packages.values().any(|(_, _, provides)| {
                    provides.iter().flatten().any(|provided| {
                        provided.name == dependency.name
                            && match (&dependency.version, &provided.version) {
                                (None, _) => true,
                                (Some(_), Some((_, version))) => dependency.accepts(version),
                                (Some(_), None) => false,
                            }
                    })
                })
        })
    }

    /// Every package's name, version and `Breaks`/`Conflicts`.
    fn breakers(&self) -> Vec<(&str, &str, &Clauses)> {
        self.packages
            .iter()
            .map(|(name, (version, breaks, _))| (name.as_str(), version.as_str(), breaks))
            .collect()
    }
}

/// A clause as written.
fn show(clause: &[Dependency]) -> String {
    clause
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::release::Release;

    fn installed(name: &str, version: &str, depends: &str, breaks: &str) -> Installed {
        Installed {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            depends: relations::parse(depends).unwrap(),
            breaks: relations::parse(breaks).unwrap(),
            provides: Vec::new(),
            held: false,
        }
    }

    fn offer<'a>(
        name: &'a str,
        version: &'a str,
        depends: &'a str,
        breaks: &'a str,
        release: &'a Release,
    ) -> Available<'a> {
        Available {
            name,
            version,
            architecture: "amd64",
            multi_arch: "",
            depends,
            pre_depends: "",
            recommends: "",
            breaks,
            conflicts: "",
            provides: "",
            filename: "pool/x.deb",
            sha256: "00",
            size: 1,
            archive: "http://x",
            release,
        }
    }

    fn names(resolved: &Resolved) -> Vec<String> {
        resolved
            .chosen
            .iter()
            .map(|chosen| format!("{} {}", chosen.package.name, chosen.package.version))
            .collect()
    }

    /// The message of a failure (any other error fails the test).
    fn failure(error: NativeError) -> String {
        match error {
            NativeError::Failed(message) => message,
            NativeError::Unsupported(message) => panic!("unsupported, not failed: {message}"),
        }
    }

    fn goal<'a>(updates: Vec<(&'a str, &'a str)>) -> Goal<'a> {
        Goal {
            updates,
            architecture: "amd64",
            partial: false,
        }
    }

    #[test]
    fn packages_that_pin_each_other_move_in_lockstep() {
        let release = Release::default();
        let image = [
            installed("perl-base", "5.36.0-7", "", ""),
            installed(
                "perl",
                "5.36.0-7",
                "perl-base (= 5.36.0-7), libperl5.36 (= 5.36.0-7)",
                "",
            ),
            installed("libperl5.36", "5.36.0-7", "perl-base (= 5.36.0-7)", ""),
        ];
        let offers = [
            offer("perl-base", "5.36.0-8", "", "", &release),
            offer(
                "perl",
                "5.36.0-8",
                "perl-base (= 5.36.0-8), libperl5.36 (= 5.36.0-8)",
                "",
                &release,
            ),
            offer(
                "libperl5.36",
                "5.36.0-8",
                "perl-base (= 5.36.0-8)",
                "",
                &release,
            ),
        ];
        let resolved =
            resolve(&image, &offers, &[], &goal(vec![("perl-base", "5.36.0-8")])).unwrap();
        assert_eq!(
            names(&resolved),
            [
                "libperl5.36 5.36.0-8",
                "perl 5.36.0-8",
                "perl-base 5.36.0-8"
            ]
        );
    }

    #[test]
    fn new_dependencies_are_installed_for_a_report_and_kept_back_in_update_all() {
        let release = Release::default();
        let image = [
            installed("curl", "1", "", ""),
            installed("zlib", "1", "", ""),
        ];
        let offers = [
            offer("curl", "2", "libnew (>= 1), zlib", "", &release),
            offer("libnew", "1", "", "", &release),
            offer("zlib", "2", "", "", &release),
        ];
        let resolved = resolve(&image, &offers, &[], &goal(vec![("curl", "2")])).unwrap();
        assert_eq!(names(&resolved), ["curl 2", "libnew 1"]);
        assert_eq!(resolved.chosen[1].replaces, None);
        let resolved = resolve(&image, &offers, &[], &goal(vec![])).unwrap();
        assert_eq!(names(&resolved), ["zlib 2"]);
        assert!(
            resolved.warnings[0].contains("curl is kept back"),
            "{:?}",
            resolved.warnings
        );
    }

    #[test]
    fn a_partial_image_needs_only_the_dependencies_it_has() {
        let release = Release::default();
        let image = [
            installed("curl", "1", "", ""),
            installed("zlib", "1", "", ""),
        ];
        let offers = [
            offer("curl", "2", "libnew (>= 1), zlib (>= 2)", "", &release),
            offer("libnew", "1", "", "", &release),
            offer("zlib", "2", "", "", &release),
        ];
        let partial = Goal {
            partial: true,
            ..goal(vec![])
        };
        let resolved = resolve(&image, &offers, &[], &partial).unwrap();
        assert_eq!(
            names(&resolved),
            ["curl 2", "zlib 2"],
            "libnew, which the image lacks, is not needed; zlib, which it has too old, is"
        );
        assert!(resolved.warnings.is_empty(), "{:?}", resolved.warnings);
    }

    #[test]
    fn a_closure_that_would_remove_a_package_is_refused_naming_both() {
        let release = Release::default();
        let image = [
            installed("libssl3", "1", "", ""),
            installed("oldtool", "1", "libssl3 (<< 2)", ""),
        ];
        let offers = [offer("libssl3", "2", "", "", &release)];
        let error = resolve(&image, &offers, &[], &goal(vec![("libssl3", "2")]))
            .map(|_| ())
            .map_err(failure)
            .unwrap_err();
        assert!(
            error.contains("libssl3 2") && error.contains("oldtool 1"),
            "{error}"
        );
        let breaking = [offer("libssl3", "2", "", "oldtool (<< 5)", &release)];
        let error = resolve(&image, &breaking, &[], &goal(vec![("libssl3", "2")]))
            .map(|_| ())
            .map_err(failure)
            .unwrap_err();
        assert!(
            error.contains("oldtool") && error.contains("remove"),
            "{error}"
        );
    }

    #[test]
    fn the_repositories_below_the_fixed_version_are_an_error() {
        let release = Release::default();
        let image = [installed("a", "1", "", "")];
        let offers = [offer("a", "2", "", "", &release)];
        let error = resolve(&image, &offers, &[], &goal(vec![("a", "3")]))
            .map(|_| ())
            .map_err(failure)
            .unwrap_err();
        assert!(error.contains("below the fixed version 3"), "{error}");
    }

    #[test]
    fn pins_choose_the_candidate() {
        let stable = Release::default();
        let backports = Release {
            codename: "bookworm-backports".into(),
            ..Release::default()
        };
        let image = [installed("a", "1", "", "")];
        let offers = [
            offer("a", "2", "", "", &stable),
            offer("a", "3", "", "", &backports),
        ];
        let pins = pinning::parse(
            "p",
            "Package: *\nPin: release n=bookworm-backports\nPin-Priority: 100\n",
        )
        .unwrap();
        let resolved = resolve(&image, &offers, &pins, &goal(vec![("a", "2")])).unwrap();
        assert_eq!(names(&resolved), ["a 2"]);
        let resolved = resolve(&image, &offers, &[], &goal(vec![("a", "2")])).unwrap();
        assert_eq!(names(&resolved), ["a 3"]);
    }
}
