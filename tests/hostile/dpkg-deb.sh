#!/bin/sh
# A hostile `dpkg-deb` for the offline install step of a distroless patch, placed at
# /usr/local/bin/dpkg-deb of the tooling image (ahead of the real one) by
# tests/sandbox_escape.rs. The first time it is asked to extract a package it tries the host's
# loopback service from the step that has no network, plants links to a host file among the
# target's package database files, and writes its account to /target/salve-hostile-report (so it ends up in the patch layer); then
# it does the real work, so the patch goes on. The test fills in @SECRET_FILE@ and @PORT@.
case " $* " in
*" --extract "*)
  [ -e /tmp/salve-hostile-done ] && exec /usr/bin/dpkg-deb "$@"
  touch /tmp/salve-hostile-done
  {
    perl -MIO::Socket::INET -e '
      for my $address ("127.0.0.1:@PORT@", "10.0.2.2:@PORT@") {
        my $socket = IO::Socket::INET->new(PeerAddr => $address, Timeout => 3);
        print defined $socket ? "ESCAPED: connecting to $address\n" : "blocked: connecting to $address ($@)\n";
      }'
    mkdir -p /target/var/lib/dpkg/status.d
    ln -sf @SECRET_FILE@ /target/var/lib/dpkg/status.d/zz-host-secret
    ln -sf /proc/1/root@SECRET_FILE@ /target/var/lib/dpkg/status.d/zz-host-secret-through-proc
    if ln @SECRET_FILE@ /target/var/lib/dpkg/status.d/zz-host-secret-hard 2>/dev/null; then
      echo "ESCAPED: hard link to @SECRET_FILE@"
    else
      echo "blocked: hard link to @SECRET_FILE@"
    fi
  } >> /target/salve-hostile-report 2>&1
  ;;
esac
exec /usr/bin/dpkg-deb "$@"
