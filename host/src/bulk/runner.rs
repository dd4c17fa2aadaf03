//! Running jobs at once: each job is a `salve patch` process of its own (one that fails, hangs or
//! crashes cannot take the others down; all share the cache folder, whose entries they lock),
//! at most `concurrency` at a time, each started on the BuildKit daemon running the fewest jobs.
//! A signal to the run stops new jobs and passes SIGTERM to the running ones, which clean up.

use super::jobs::Job;
use super::outcome::{Events, JobResult, Status, error_of};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a job may run past its own deadline before it is killed: its own timeout ends it
/// with cleanup first, so this only catches a process that stopped answering.
const KILL_GRACE: Duration = Duration::from_secs(60);
/// How often a running job is checked.
const POLL: Duration = Duration::from_millis(100);
/// The most of a job's stderr kept for its error.
const STDERR_KEPT: usize = 64 << 10;

/// How jobs run.
pub struct Runner<'a> {
    /// Jobs at once.
    pub concurrency: usize,
    /// BuildKit daemons to spread jobs over (empty: jobs name none).
    pub daemons: Vec<String>,
    /// Each job's own time allowed (its `--timeout`).
    pub timeout: Duration,
    /// The `salve patch` command for a job on a daemon.
    pub command: &'a (dyn Fn(&Job, Option<&str>) -> Command + Sync),
}

/// The processes running, for passing a signal on.
type Running = Arc<Mutex<Vec<u32>>>;

impl Runner<'_> {
    /// Runs every job; `finished` is told of each result as it comes (with how many ended so
    /// far). Results are in the jobs' order.
    pub fn run(
        &self,
        jobs: &[Job],
        mut finished: impl FnMut(&JobResult, usize),
    ) -> std::io::Result<Vec<JobResult>> {
        let stopping = Arc::new(AtomicBool::new(false));
        let running: Running = Arc::default();
        forward_signals(stopping.clone(), running.clone())?;
        let slots = self.daemons.len().max(1);
        let mut load = vec![0usize; slots];
        let mut results: Vec<Option<JobResult>> = vec![None; jobs.len()];
        let (done, ended) = mpsc::channel::<(usize, usize, JobResult)>();
        std::thread::scope(|scope| {
            let mut next = 0;
            let mut active = 0;
            let mut count = 0;
            loop {
                while active < self.concurrency
                    && next < jobs.len()
                    && !stopping.load(Ordering::SeqCst)
                {
                    let slot = (0..slots).min_by_key(|&slot| load[slot]).expect("a slot");
                    load[slot] += 1;
                    active += 1;
                    let index = next;
                    next += 1;
                    let daemon = self.daemons.get(slot).map(String::as_str);
                    let done = done.clone();
                    let running = running.clone();
                    let stopping = &stopping;
                    scope.spawn(move || {
                        let result = self.run_one(&jobs[index], daemon, &running, stopping);
                        let _ = done.send((index, slot, result));
                    });
                }
                if active == 0 {
                    break;
                }
                let (index, slot, result) = ended.recv().expect("a job thread sends its result");
                load[slot] -= 1;
                active -= 1;
                count += 1;
                finished(&result, count);
                results[index] = Some(result);
            }
        });
        Ok(jobs
            .iter()
            .zip(results)
            .map(|(job, result)| {
                result.unwrap_or_else(|| {
                    let mut result = blank(job, None);
                    result.status = Status::Cancelled;
                    result.error = Some("not started: the run was stopped".into());
                    result
                })
            })
            .collect())
    }

    /// Runs one job's `salve patch` to its end and reads what it reported; a job that fails
    /// once the run is stopping counts as cancelled.
    fn run_one(
        &self,
        job: &Job,
        daemon: Option<&str>,
        running: &Running,
        stopping: &AtomicBool,
    ) -> JobResult {
        let started = Instant::now();
        let mut result = blank(job, daemon);
        let mut command = (self.command)(job, daemon);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C at the terminal reaches this process, which
            // passes it on once, rather than every job twice.
            .process_group(0);
        // SAFETY: between fork and exec the child only calls prctl, which is async-signal-safe.
        // The job ends with this thread (which waits for it) if this process dies.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                result.status = Status::Failed;
                result.error = Some(format!("starting salve patch: {error}"));
                return result;
            }
        };
        running.lock().expect("not poisoned").push(child.id());
        let (events, stderr) = read_outputs(&mut child);
        let status = wait_bounded(&mut child, self.timeout + KILL_GRACE);
        running
            .lock()
            .expect("not poisoned")
            .retain(|pid| *pid != child.id());
        let events = events.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        result.seconds = started.elapsed().as_secs_f64();
        match status {
            Ok(status) if status.success() => {
                result.status = events.status();
                events.fill(&mut result);
            }
            Ok(status) => {
                result.status = if stopping.load(Ordering::SeqCst) {
                    Status::Cancelled
                } else {
                    Status::Failed
                };
                result.error = Some(error_of(&stderr, &describe(status)));
                events.fill(&mut result);
                result.digest = None;
            }
            Err(error) => {
                result.status = Status::Failed;
                result.error = Some(error);
            }
        }
        result
    }
}

/// A result with nothing filled in yet.
fn blank(job: &Job, daemon: Option<&str>) -> JobResult {
    let mut result = JobResult::failed(&job.name, &job.source, Some(job.target()), None);
    result.daemon = daemon.map(str::to_string);
    result
}

/// Reads a child's stdout (its events) and stderr (the tail kept) on threads of their own, so
/// neither pipe fills while the other is read.
fn read_outputs(
    child: &mut Child,
) -> (
    std::thread::JoinHandle<Events>,
    std::thread::JoinHandle<String>,
) {
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let events = std::thread::spawn(move || {
        let mut events = Events::default();
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(line) => events.read_line(&line),
                Err(_) => break,
            }
        }
        events
    });
    let stderr = std::thread::spawn(move || {
        let mut kept: Vec<u8> = Vec::new();
        let mut buffer = [0u8; 8192];
        let mut stderr = stderr;
        while let Ok(read) = stderr.read(&mut buffer) {
            if read == 0 {
                break;
            }
            kept.extend_from_slice(&buffer[..read]);
            if kept.len() > 2 * STDERR_KEPT {
                kept.drain(..kept.len() - STDERR_KEPT);
            }
        }
        let start = kept.len().saturating_sub(STDERR_KEPT);
        String::from_utf8_lossy(&kept[start..]).into_owned()
    });
    (events, stderr)
}

/// Waits for a child, killing it once `limit` has passed.
fn wait_bounded(child: &mut Child, limit: Duration) -> Result<ExitStatus, String> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(POLL),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "salve patch did not end within {} of its own deadline and was killed",
                    crate::quantity::format_duration(KILL_GRACE)
                ));
            }
            Err(error) => return Err(format!("waiting for salve patch: {error}")),
        }
    }
}

/// How a process ended, in words.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("salve patch exited with code {code}"),
        (None, Some(signal)) => format!("salve patch was ended by signal {signal}"),
        (None, None) => "salve patch ended".to_string(),
    }
}

/// On SIGINT or SIGTERM: no new job starts, and each running job is sent SIGTERM (it stops and
/// cleans up, as a patch run does on Ctrl-C). A second signal ends this process at once; the
/// jobs follow through their parent-death signal.
fn forward_signals(stopping: Arc<AtomicBool>, running: Running) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("salve-bulk-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if stopping.swap(true, Ordering::SeqCst) {
                    std::process::exit(130);
                }
                eprintln!("stopping: no new image is started; the running ones are stopped");
                for pid in running.lock().expect("not poisoned").iter() {
                    if let Some(pid) = rustix::process::Pid::from_raw(*pid as i32) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                    }
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str) -> Job {
        Job {
            name: name.to_string(),
            source: format!("r/{name}:1"),
            target_repository: format!("r/{name}"),
            target_tag: "1-patched".to_string(),
            report: None,
            platforms: Vec::new(),
        }
    }

    /// Each job is a shell script named after it: the scripts stand in for `salve patch`'s
    /// behaviours the runner must read (events, an error, a crash).
    fn script(job: &Job) -> &'static str {
        match job.name.as_str() {
            "fails" => "echo 'warning: w' >&2; echo 'error: boom' >&2; exit 3",
            "crashes" => "kill -9 $$",
            _ => {
                "sleep 0.2; echo '{\"event\":\"package\",\"platform\":\"p\",\"package\":\"a\"}'; \
                 echo '{\"event\":\"done\",\"digest\":\"sha256:1\",\"vulnerabilities\":[\"C\"],\
                 \"shortfalls\":[]}'"
            }
        }
    }

    #[test]
    fn jobs_run_on_the_least_busy_daemon_and_each_ends_on_its_own() {
        let jobs: Vec<Job> = ["a", "fails", "b", "crashes", "c", "d"]
            .iter()
            .map(|name| job(name))
            .collect();
        let command = |job: &Job, daemon: Option<&str>| {
            let mut command = Command::new("sh");
            command.args(["-c", script(job)]);
            assert!(daemon.is_some());
            command
        };
        let runner = Runner {
            concurrency: 2,
            daemons: vec!["one".into(), "two".into()],
            timeout: Duration::from_secs(30),
            command: &command,
        };
        let mut seen = Vec::new();
        let results = runner
            .run(&jobs, |result, done| seen.push((result.name.clone(), done)))
            .unwrap();
        assert_eq!(seen.len(), 6);
        assert_eq!(
            seen.iter().map(|(_, done)| *done).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "fails", "b", "crashes", "c", "d"], "in order");
        for result in &results {
            match result.name.as_str() {
                "fails" => {
                    assert_eq!(result.status, Status::Failed);
                    assert_eq!(result.error.as_deref(), Some("boom"));
                }
                "crashes" => {
                    assert_eq!(result.status, Status::Failed);
                    assert_eq!(
                        result.error.as_deref(),
                        Some("salve patch was ended by signal 9")
                    );
                }
                _ => {
                    assert_eq!(result.status, Status::Patched, "{result:?}");
                    assert_eq!((result.packages, result.vulnerabilities), (1, 1));
                    assert_eq!(result.digest.as_deref(), Some("sha256:1"));
                }
            }
        }
        let daemons: std::collections::BTreeSet<_> =
            results.iter().filter_map(|r| r.daemon.as_deref()).collect();
        assert_eq!(daemons.len(), 2, "both daemons were used");
        // The first two start at once, one on each daemon.
        assert_ne!(results[0].daemon, results[1].daemon);
    }
}
