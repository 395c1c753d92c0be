//! A server the tests start as a child process in a group of its own.

use std::process::Child;

/// A child started with `process_group(0)`: on drop its whole group is killed
/// (a server's own children with it) and reaped, whatever the test did.
pub(crate) struct ServerProcess(pub(crate) Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.0.wait();
    }
}
