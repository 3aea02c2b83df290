//! The probe engine's own thread.
//!
//! A probe's cost is dominated by wake-ups, not by work: a multi-threaded runtime hands a
//! reply, a timer and a result from one worker thread to another, and every hand-off is a
//! futex wake and a context switch. So, under a multi-threaded runtime, the sockets, their
//! receive loops, the address loops and the samplers all run on one dedicated current-thread
//! runtime. Wake-ups there are queue pushes, and the schedule's 10 ms quantum
//! ([`super::schedule::QUANTUM`]) lets one wake-up send many probes. The HTTP server, the tick
//! and the statistics stay on the main runtime, so a long `/metrics` render never delays the
//! reading of a reply (which would inflate its measured round trip).
//!
//! Under a current-thread runtime (the tests' paused clock), everything stays on it.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Where the probe engine's tasks run.
pub struct ProbeRuntime {
    handle: Handle,
    thread: Option<(
        std::thread::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
}

impl std::fmt::Debug for ProbeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeRuntime")
            .field("dedicated_thread", &self.thread.is_some())
            .finish()
    }
}

impl ProbeRuntime {
    /// A dedicated thread under a multi-threaded runtime, the current runtime otherwise.
    /// Must be called from within a tokio runtime.
    pub fn start() -> std::io::Result<Self> {
        let current = Handle::current();
        if current.runtime_flavor() == RuntimeFlavor::CurrentThread {
            return Ok(Self {
                handle: current,
                thread: None,
            });
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dnsgrade-probe".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = rx.await;
                });
                rt.shutdown_timeout(std::time::Duration::from_secs(1));
            })?;
        Ok(Self {
            handle,
            thread: Some((thread, tx)),
        })
    }

    /// The runtime to spawn probe tasks on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for ProbeRuntime {
    fn drop(&mut self) {
        if let Some((thread, stop)) = self.thread.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}
