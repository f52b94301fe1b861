//! File descriptors as a resource that runs out: the limit this process has.
//!
//! The workspace forbids `unsafe` code, so the limit is read from `/proc` rather than asked of
//! `getrlimit`.

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
}
