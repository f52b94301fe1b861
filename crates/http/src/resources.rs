//! File descriptors as a resource that runs out: the limit this process has, and telling the
//! errors that mean a limit was hit from the others.
//!
//! std's `io::ErrorKind` has no kind for "out of descriptors", so these read the operating
//! system's error number; and the workspace forbids `unsafe` code, so the limit is read from
//! `/proc` rather than asked of `getrlimit`.

use std::io;

/// The soft limit on open descriptors (`ulimit -n`, `RLIMIT_NOFILE`) of this process, from
/// `/proc/self/limits`; `None` if it cannot be read, or is unlimited, or off Linux.
pub fn open_files_limit() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    parse_open_files_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// The soft limit from the text of a `limits` file: the first number on its `Max open files` line.
fn parse_open_files_limit(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// ANCHOR: exhaustion
/// Whether `error` says no descriptor was left: in the process (`EMFILE`, "Too many open files")
/// or in the whole system (`ENFILE`). Either passes only once descriptors are closed.
pub fn is_out_of_descriptors(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// Whether `error` says a resource is exhausted: no descriptor left ([`is_out_of_descriptors`]),
/// or no kernel memory for another socket or file (`ENOBUFS`, `ENOMEM`). All of these last until
/// load falls, so a server treats them alike: retrying at once only spins, and the request did
/// nothing wrong (a file that could not be opened for want of one is not a missing file).
pub fn is_exhaustion(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        is_out_of_descriptors(error)
            || matches!(error.raw_os_error(), Some(libc::ENOBUFS | libc::ENOMEM))
    }
    #[cfg(not(unix))]
    {
        is_out_of_descriptors(error)
    }
}
// ANCHOR_END: exhaustion

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_the_first_figure() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63704                63704                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_limit(unlimited), None);
        assert_eq!(parse_open_files_limit(""), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_limit() {
        assert!(open_files_limit().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn each_check_knows_its_errors() {
        let error = io::Error::from_raw_os_error;
        for errno in [libc::EMFILE, libc::ENFILE] {
            assert!(is_out_of_descriptors(&error(errno)), "{errno}");
            assert!(is_exhaustion(&error(errno)), "{errno}");
        }
        for errno in [libc::ENOBUFS, libc::ENOMEM] {
            assert!(!is_out_of_descriptors(&error(errno)), "{errno}");
            assert!(is_exhaustion(&error(errno)), "{errno}");
        }
        for errno in [
            libc::ENOENT,
            libc::EACCES,
            libc::ENOTDIR,
            libc::ELOOP,
            libc::ECONNABORTED,
        ] {
            assert!(!is_exhaustion(&error(errno)), "{errno}");
        }
        assert!(!is_exhaustion(&io::Error::from(io::ErrorKind::Interrupted)));
    }
}
