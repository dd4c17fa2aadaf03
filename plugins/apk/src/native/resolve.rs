//! Choosing what `apk upgrade` would install: for each package to upgrade, the newest version
//! the repositories it may use have (a tagged repository only for names pinned to its tag, the
//! first repository on a tie); then what the new versions need (`D:`, through names or `p:`
//! provides such as `so:` and `cmd:`), installed packages kept where they still satisfy it; then
//! packages whose install-if conditions the new set meets. Conflicts (`!name`) fail; a package
//! the update would leave unneeded (which apk would purge) is not something native installation
//! does, and says so.

use super::dependency::Dependency;
use super::repositories::Repository;
use super::stanza::Stanza;
use crate::version;
use salve_plugin_sdk::{NativeError, RequestedUpdate};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// A package a repository index offers.
#[derive(Clone, Debug)]
pub struct Available {
    /// Its index stanza.
    pub stanza: Stanza,
    /// The repository whose index lists it.
    pub repository: Repository,
    /// The repository's place in `/etc/apk/repositories` (earlier wins a tie).
    pub order: usize,
}

/// A package resolution chose.
#[derive(Clone, Debug)]
pub struct Chosen<'a> {
    /// What is installed.
    pub package: &'a Available,
    /// The installed version it replaces, none for a new package.
    pub replaces: Option<String>,
}

/// What `resolve` decided.
#[derive(Debug)]
pub struct Resolved<'a> {
    /// The packages to install, each after what it needs.
    pub chosen: Vec<Chosen<'a>>,
    /// Notes for the user.
    pub warnings: Vec<String>,
}

/// A package of the resulting set.
#[derive(Clone, Copy)]
enum Member<'a> {
    /// Installed and left as it is.
    Kept(&'a Stanza),
    /// Chosen from a repository.
    New(&'a Available),
}

impl<'a> Member<'a> {
    fn stanza(self) -> &'a Stanza {
        match self {
            Member::Kept(stanza) => stanza,
            Member::New(available) => &available.stanza,
        }
    }

    fn satisfies(self, dependency: &Dependency) -> bool {
        let stanza = self.stanza();
        dependency.matches(stanza.name(), stanza.version(), &stanza.provides())
    }
}

/// The inputs of a resolution.
pub struct Universe<'a> {
    /// Every package the repositories offer.
    pub available: &'a [Available],
    /// The installed database's stanzas.
    pub installed: &'a [Stanza],
    /// `/etc/apk/world`'s dependencies (empty when the image has none).
    pub world: &'a [Dependency],
    /// Names pinned to a repository tag.
    pub pins: &'a BTreeMap<String, String>,
}

/// A resolution in progress: the resulting set by name.
struct State<'a> {
    universe: &'a Universe<'a>,
    members: BTreeMap<&'a str, Member<'a>>,
    /// Names chosen, in the order they were.
    chosen: Vec<&'a str>,
}

fn failed(message: String) -> NativeError {
    NativeError::Failed(message)
}

/// Resolves `updates` (every installed package when empty).
pub fn resolve<'a>(
    universe: &'a Universe<'a>,
    updates: &[RequestedUpdate],
) -> Result<Resolved<'a>, NativeError> {
    let mut state = State {
        universe,
        members: universe
            .installed
            .iter()
            .map(|stanza| (stanza.name(), Member::Kept(stanza)))
            .collect(),
        chosen: Vec::new(),
    };
    let mut warnings = Vec::new();
    let targets: Vec<(&str, Option<&str>)> = if updates.is_empty() {
        universe
            .installed
            .iter()
            .map(|stanza| (stanza.name(), None))
            .collect()
    } else {
        updates
            .iter()
            .map(|update| (update.package.as_str(), Some(update.fixed_version.as_str())))
            .collect()
    };
    for (name, fixed) in targets {
        let Some(Member::Kept(installed)) = state.members.get(name).copied() else {
            if state.members.contains_key(name) {
                continue;
            }
            return Err(failed(format!("{name} is not installed in the image")));
        };
        let newest = state.newest(name, |_| true);
        if let Some(fixed) = fixed
            && version::compare(installed.version(), fixed) != Ordering::Less
        {
            continue;
        }
        match (newest, fixed) {
            (None, Some(fixed)) => {
                return Err(failed(format!(
                    "the image's repositories have no {name} (the fix is {fixed})"
                )));
            }
            (None, None) => warnings.push(format!(
                "{name} {} is in none of the image's repositories; it is left as it is",
                installed.version()
            )),
            (Some(newest), fixed) => {
                let version = newest.stanza.version();
                if let Some(fixed) = fixed
                    && version::compare(version, fixed) == Ordering::Less
                {
                    return Err(failed(format!(
                        "the image's repositories have {name} {version} at most, not the fixed \
                         {fixed}"
                    )));
                }
                if version::compare(version, installed.version()) == Ordering::Greater {
                    state.choose(newest);
                }
            }
        }
    }
    state.settle()?;
    state.orphans()?;
    let chosen = state.ordered()?;
    Ok(Resolved { chosen, warnings })
}

impl<'a> State<'a> {
    /// Whether `available` may be used for its name: an untagged repository's, or the tag the
    /// name is pinned to.
    fn eligible(&self, available: &Available) -> bool {
        match &available.repository.tag {
            None => true,
            Some(tag) => self.universe.pins.get(available.stanza.name()) == Some(tag),
        }
    }

    /// The newest eligible package named `name` that `accept` accepts (the earliest
    /// repository on a tie).
    fn newest(&self, name: &str, accept: impl Fn(&Available) -> bool) -> Option<&'a Available> {
        self.universe
            .available
            .iter()
            .filter(|available| available.stanza.name() == name)
            .filter(|available| self.eligible(available) && accept(available))
            .max_by(|a, b| {
                version::compare(a.stanza.version(), b.stanza.version()).then(b.order.cmp(&a.order))
            })
    }

    /// Puts `available` in the set in place of what has its name.
    fn choose(&mut self, available: &'a Available) {
        let name = available.stanza.name();
        self.members.insert(name, Member::New(available));
        if !self.chosen.contains(&name) {
            self.chosen.push(name);
        }
    }

    /// Whether a package of the set satisfies `dependency`.
    fn satisfied(&self, dependency: &Dependency) -> bool {
        self.members
            .values()
            .any(|member| member.satisfies(dependency))
    }

    /// The package to install for an unsatisfied `dependency`: a newer version of an installed
    /// package that satisfies it, else a package of that name, else the provider with the
    /// highest priority (then the newest, then the first name).
    fn provider(&self, dependency: &Dependency) -> Option<&'a Available> {
        let satisfies = |available: &Available| {
            let stanza = &available.stanza;
            dependency.matches(stanza.name(), stanza.version(), &stanza.provides())
        };
        let installed = self
            .members
            .keys()
            .filter_map(|name| self.newest(name, satisfies))
            .next();
        installed
            .or_else(|| self.newest(&dependency.name, satisfies))
            .or_else(|| {
                self.universe
                    .available
                    .iter()
                    .filter(|available| self.eligible(available) && satisfies(available))
                    .max_by(|a, b| {
                        a.stanza
                            .provider_priority()
                            .cmp(&b.stanza.provider_priority())
                            .then(version::compare(a.stanza.version(), b.stanza.version()))
                            .then(b.stanza.name().cmp(a.stanza.name()))
                    })
            })
    }

    /// Adds what the set needs until every member's dependencies hold and every install-if
    /// package whose conditions a chosen package completes is in.
    fn settle(&mut self) -> Result<(), NativeError> {
        loop {
            let mut changed = false;
            let members: Vec<Member<'a>> = self.members.values().copied().collect();
            for member in members {
                let stanza = member.stanza();
                let dependencies = stanza.depends().map_err(failed)?;
                for dependency in &dependencies {
                    if dependency.conflict {
                        if let Some(other) = self.members.values().find(|other| {
                            other.stanza().name() != stanza.name() && other.satisfies(dependency)
                        }) {
                            return Err(failed(format!(
                                "{} conflicts with {} {}, so the update cannot be made",
                                stanza.name(),
                                other.stanza().name(),
                                other.stanza().version()
                            )));
                        }
                        continue;
                    }
                    if self.satisfied(dependency) {
                        continue;
                    }
                    if let Member::Kept(kept) = member
                        && let Some(newer) = self.newest(kept.name(), |available| {
                            version::compare(available.stanza.version(), kept.version())
                                == Ordering::Greater
                        })
                    {
                        // An installed package the update leaves unsatisfied moves on too.
                        self.choose(newer);
                        changed = true;
                        break;
                    }
                    let Some(provider) = self.provider(dependency) else {
                        return Err(failed(format!(
                            "nothing in the image's repositories provides {} (needed by {} {})",
                            describe(dependency),
                            stanza.name(),
                            stanza.version()
                        )));
                    };
                    self.choose(provider);
                    changed = true;
                }
            }
            changed |= self.install_if()?;
            if !changed {
                return Ok(());
            }
        }
    }

    /// Adds the newest package whose install-if conditions the set meets, one of them met by a
    /// chosen package; true when one was added.
    fn install_if(&mut self) -> Result<bool, NativeError> {
        for available in self.universe.available {
            let name = available.stanza.name();
            if self.members.contains_key(name) || !self.eligible(available) {
                continue;
            }
            let conditions = available.stanza.install_if().map_err(failed)?;
            if conditions.is_empty() {
                continue;
            }
            let met = conditions
                .iter()
                .all(|condition| self.satisfied(condition) != condition.conflict);
            let completed_by_update = conditions.iter().any(|condition| {
                !condition.conflict
                    && self
                        .chosen
                        .iter()
                        .any(|chosen| self.members[chosen].satisfies(condition))
            });
            if met && completed_by_update {
                let newest = self.newest(name, |_| true).unwrap_or(available);
                self.choose(newest);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Fails when a package of the set is needed by nothing `/etc/apk/world` asks for: apk
    /// would purge it, which native installation does not do.
    fn orphans(&self) -> Result<(), NativeError> {
        if self.universe.world.is_empty() {
            return Ok(());
        }
        let mut needed: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<Dependency> = self.universe.world.to_vec();
        while let Some(dependency) = queue.pop() {
            if dependency.conflict {
                continue;
            }
            for member in self.members.values() {
                let stanza = member.stanza();
                if member.satisfies(&dependency) && needed.insert(stanza.name()) {
                    queue.extend(stanza.depends().map_err(failed)?);
                }
            }
        }
        // Install-if packages stay while their conditions hold.
        for member in self.members.values() {
            let conditions = member.stanza().install_if().map_err(failed)?;
            if !conditions.is_empty()
                && conditions
                    .iter()
                    .all(|condition| self.satisfied(condition) != condition.conflict)
            {
                needed.insert(member.stanza().name());
            }
        }
        let unneeded: Vec<String> = self
            .members
            .values()
            .map(|member| member.stanza())
            .filter(|stanza| !needed.contains(stanza.name()))
            .map(|stanza| format!("{} {}", stanza.name(), stanza.version()))
            .collect();
        if unneeded.is_empty() {
            return Ok(());
        }
        Err(NativeError::Unsupported(format!(
            "after the update nothing in /etc/apk/world needs {}, which apk would remove; \
             native installation does not remove packages",
            unneeded.join(", ")
        )))
    }

    /// The chosen packages, each after the chosen packages it depends on.
    fn ordered(&self) -> Result<Vec<Chosen<'a>>, NativeError> {
        let installed: BTreeMap<&str, &str> = self
            .universe
            .installed
            .iter()
            .map(|stanza| (stanza.name(), stanza.version()))
            .collect();
        let mut placed: Vec<&str> = Vec::new();
        let mut pending: Vec<&str> = self.chosen.clone();
        pending.sort_unstable();
        while !pending.is_empty() {
            let ready = pending.iter().position(|name| {
                let stanza = self.members[name].stanza();
                stanza
                    .depends()
                    .unwrap_or_default()
                    .iter()
                    .all(|dependency| {
                        dependency.conflict
                            || !pending.iter().any(|other| {
                                other != name && self.members[other].satisfies(dependency)
                            })
                    })
            });
            // A cycle: the first name breaks it, as apk installs cycles in any order.
            let at = ready.unwrap_or(0);
            placed.push(pending.remove(at));
        }
        Ok(placed
            .into_iter()
            .map(|name| {
                let Member::New(package) = self.members[name] else {
                    unreachable!("a chosen name is a new member");
                };
                Chosen {
                    package,
                    replaces: installed.get(name).map(|version| version.to_string()),
                }
            })
            .collect())
    }
}

/// A dependency as apk writes it.
fn describe(dependency: &Dependency) -> String {
    match &dependency.constraint {
        None => dependency.name.clone(),
        Some(constraint) => format!("{} (version {})", dependency.name, constraint.version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::dependency;
    use crate::native::stanza;
    use salve_plugin_sdk::testing::update;

    fn repository(tag: Option<&str>) -> Repository {
        Repository {
            url: "http://r".into(),
            tag: tag.map(String::from),
        }
    }

    fn stanzas(text: &str) -> Vec<Stanza> {
        stanza::parse(text, "test").unwrap()
    }

    fn available(text: &str, tag: Option<&str>, order: usize) -> Vec<Available> {
        stanzas(text)
            .into_iter()
            .map(|stanza| Available {
                stanza,
                repository: repository(tag),
                order,
            })
            .collect()
    }

    /// (name, version, replaces) of a resolution.
    fn resolved(
        available: &[Available],
        installed: &str,
        world: &str,
        updates: &[(&str, &str)],
    ) -> Result<Vec<(String, String, Option<String>)>, NativeError> {
        let installed = stanzas(installed);
        let world_dependencies = dependency::parse_list(world).unwrap();
        let pins = super::super::repositories::pins(world).unwrap();
        let universe = Universe {
            available,
            installed: &installed,
            world: &world_dependencies,
            pins: &pins,
        };
        let updates: Vec<RequestedUpdate> = updates
            .iter()
            .map(|(name, fixed)| update(name, fixed))
            .collect();
        Ok(resolve(&universe, &updates)?
            .chosen
            .into_iter()
            .map(|chosen| {
                (
                    chosen.package.stanza.name().to_string(),
                    chosen.package.stanza.version().to_string(),
                    chosen.replaces,
                )
            })
            .collect())
    }

    const INSTALLED: &str =
        "P:app\nV:1-r0\nD:so:libdemo.so.1\n\nP:lib\nV:1-r0\np:so:libdemo.so.1=1\n";

    #[test]
    fn upgrades_pull_in_new_dependencies_and_keep_what_still_satisfies() {
        let repo = available(
            "P:app\nV:2-r0\nD:so:libdemo.so.1 data\n\nP:lib\nV:1-r0\np:so:libdemo.so.1=1\n\n\
             P:data\nV:1-r0\n\nP:app\nV:1-r0\nD:so:libdemo.so.1\n",
            None,
            0,
        );
        let chosen = resolved(&repo, INSTALLED, "app", &[]).unwrap();
        assert_eq!(
            chosen,
            [
                ("data".into(), "1-r0".into(), None),
                ("app".into(), "2-r0".into(), Some("1-r0".into())),
            ]
        );
    }

    #[test]
    fn tagged_repositories_serve_only_pinned_names() {
        let mut repo = available("P:lib\nV:1.1-r0\np:so:libdemo.so.1=1\n", None, 0);
        repo.extend(available(
            "P:lib\nV:2-r0\np:so:libdemo.so.1=1\n",
            Some("edge"),
            1,
        ));
        let chosen = resolved(&repo, INSTALLED, "app", &[]).unwrap();
        assert_eq!(chosen[0].1, "1.1-r0");
        let chosen = resolved(&repo, INSTALLED, "app lib@edge", &[]).unwrap();
        assert_eq!(chosen[0].1, "2-r0");
    }

    #[test]
    fn requested_updates_need_the_fixed_version_and_installed_packages() {
        let repo = available("P:lib\nV:1.1-r0\np:so:libdemo.so.1=1\n", None, 0);
        let chosen = resolved(&repo, INSTALLED, "app", &[("lib", "1.1-r0")]).unwrap();
        assert_eq!(chosen.len(), 1);
        let error = resolved(&repo, INSTALLED, "app", &[("lib", "1.2-r0")]).unwrap_err();
        assert!(
            matches!(error, NativeError::Failed(message) if message.contains("1.1-r0 at most"))
        );
        assert!(resolved(&repo, INSTALLED, "app", &[("curl", "1")]).is_err());
        // Already fixed: nothing to do.
        assert!(
            resolved(&repo, INSTALLED, "app", &[("lib", "1-r0")])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn conflicts_missing_providers_and_purges_are_refused() {
        let repo = available("P:app\nV:2-r0\nD:so:libdemo.so.2\n", None, 0);
        let error = resolved(&repo, INSTALLED, "app", &[]).unwrap_err();
        assert!(
            matches!(error, NativeError::Failed(message) if message.contains("so:libdemo.so.2"))
        );
        let repo = available("P:app\nV:2-r0\nD:!lib\n", None, 0);
        let error = resolved(&repo, INSTALLED, "app", &[]).unwrap_err();
        assert!(matches!(error, NativeError::Failed(message) if message.contains("conflicts")));
        // app 2 no longer needs lib: apk would purge it.
        let repo = available("P:app\nV:2-r0\n", None, 0);
        let error = resolved(&repo, INSTALLED, "app", &[]).unwrap_err();
        assert!(matches!(error, NativeError::Unsupported(message) if message.contains("lib 1-r0")));
    }

    #[test]
    fn install_if_packages_come_with_the_update_that_completes_them() {
        let repo = available(
            "P:app\nV:2-r0\nD:so:libdemo.so.1\n\nP:app-doc\nV:2-r0\ni:app=2-r0 lib\n\n\
             P:other-doc\nV:1-r0\ni:other\n",
            None,
            0,
        );
        let chosen = resolved(&repo, INSTALLED, "app", &[]).unwrap();
        let names: Vec<&str> = chosen.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(names, ["app", "app-doc"]);
    }
}
