#!/usr/bin/env python3
"""Writes the Trivy report the end-to-end benchmarks patch from: the first five updates of
`fixtures/images/security-updates.py`'s list (UPDATES, JSON), as os-pkgs findings, to REPORT.
With ROOTFS (the unpacked image), only updates whose source package has no installed binary
with a maintainer script are taken: those every engine, the native one included, can make.
With SALVE_PACKAGES (names separated by spaces) in the environment, the updates of those
packages are taken instead, whatever their scripts. Prints the packages' names on one line.
Usage: scripts/bench-report.py UPDATES REPORT [ROOTFS]"""

import glob
import json
import os
import sys


def scripted_sources(rootfs):
    """The source packages of the installed binaries that have a maintainer script."""
    scripted = set()
    for script in ("preinst", "postinst", "prerm", "postrm"):
        for path in glob.glob(os.path.join(rootfs, "var/lib/dpkg/info", f"*.{script}")):
            scripted.add(os.path.basename(path).rsplit(".", 1)[0].split(":")[0])
    source_of = {}
    status = open(os.path.join(rootfs, "var/lib/dpkg/status"), encoding="utf-8").read()
    for stanza in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines()
                      if ": " in line and not line.startswith(" "))
        if "Package" in fields:
            source_of[fields["Package"]] = fields.get("Source", fields["Package"]).split()[0]
    return {source_of.get(package, package) for package in scripted}, source_of


updates = json.load(open(sys.argv[1], encoding="utf-8"))
chosen = os.environ.get("SALVE_PACKAGES", "").split()
if chosen:
    updates = [u for name in chosen for u in updates if u["package"] == name]
    missing = set(chosen) - {u["package"] for u in updates}
    if missing:
        sys.exit(f"no update for {' '.join(sorted(missing))} in {sys.argv[1]}")
elif len(sys.argv) > 3:
    sources, source_of = scripted_sources(sys.argv[3])
    updates = [u for u in updates if source_of.get(u["package"], u["package"]) not in sources]
updates = updates[:5]
vulns = [{"VulnerabilityID": f"CVE-2099-{20000 + i}", "PkgName": u["package"],
          "InstalledVersion": u["installed"], "FixedVersion": u["fixed"]}
         for i, u in enumerate(updates)]
json.dump({"SchemaVersion": 2, "ArtifactName": "bench",
           "Metadata": {"OS": {"Family": "debian", "Name": "12"}},
           "Results": [{"Target": "bench", "Class": "os-pkgs", "Type": "debian",
                        "Vulnerabilities": vulns}]}, open(sys.argv[2], "w", encoding="utf-8"))
print(" ".join(u["package"] for u in updates))
