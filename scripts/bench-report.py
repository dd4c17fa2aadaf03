#!/usr/bin/env python3
"""Writes the Trivy report the end-to-end benchmarks patch from: the first five updates of
`fixtures/images/security-updates.py`'s list (UPDATES, JSON), as os-pkgs findings, to REPORT.
Prints the packages' names on one line.
Usage: scripts/bench-report.py UPDATES REPORT"""

import json
import sys

updates = json.load(open(sys.argv[1], encoding="utf-8"))[:5]
vulns = [{"VulnerabilityID": f"CVE-2099-{20000 + i}", "PkgName": u["package"],
          "InstalledVersion": u["installed"], "FixedVersion": u["fixed"]}
         for i, u in enumerate(updates)]
json.dump({"SchemaVersion": 2, "ArtifactName": "bench",
           "Metadata": {"OS": {"Family": "debian", "Name": "12"}},
           "Results": [{"Target": "bench", "Class": "os-pkgs", "Type": "debian",
                        "Vulnerabilities": vulns}]}, open(sys.argv[2], "w", encoding="utf-8"))
print(" ".join(u["package"] for u in updates))
