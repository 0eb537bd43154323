//! The process groups of the live children, and the interrupt handler that kills them all.
//!
//! Every child runs in a process group of its own (its pid is the group's id), so that one signal
//! reaches it and everything it started. A group is registered from before its leader can run until
//! it has been killed, and is always killed while its leader is still unreaped: a zombie leader keeps
//! its pid, so the group's id cannot have been reused by an unrelated process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustix::process::{Pid, Signal, kill_process_group};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::Error;

/// The ids of the live children's process groups.
static LIVE: Mutex<Vec<Pid>> = Mutex::new(Vec::new());

/// The registry, locked. Spawning holds it from before the fork until the new group is registered, so
/// the interrupt handler never misses a group.
pub(crate) fn live() -> MutexGuard<'static, Vec<Pid>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends SIGKILL to every process of group `pgid` and forgets the group. Best effort: a group whose
/// processes are all gone already is not an error.
pub(crate) fn kill(pgid: Pid) {
    let _ = kill_process_group(pgid, Signal::KILL);
    live().retain(|&p| p != pgid);
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP: on the first of them, every live child's
/// process group is killed with SIGKILL and the process exits with status 128 + the signal's number
/// (130, 143, 129), as a shell reports a process that a signal ended.
///
/// The children run in process groups of their own, so a Ctrl-C at the terminal reaches only the
/// parent: without this handler they would outlive it. Call it once, early in `main`; later calls do
/// nothing. The signals are taken from a thread of its own, so the handler may lock and kill freely.
pub fn install_interrupt_handler() -> Result<(), Error> {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let installed = Signals::new([SIGINT, SIGTERM, SIGHUP]).and_then(|mut signals| {
        std::thread::Builder::new().name("pawl-supervise-signals".into()).spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Held until the exit: nothing can be spawned after the groups are killed.
                let live = live();
                for &pgid in live.iter() {
                    let _ = kill_process_group(pgid, Signal::KILL);
                }
                std::process::exit(128 + signal);
            }
        })
    });
    installed.map(drop).map_err(|source| {
        INSTALLED.store(false, Ordering::SeqCst);
        Error::Signals { source }
    })
}
