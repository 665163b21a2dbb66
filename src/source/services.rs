//! Reading `/etc/services` (or another services file) into the engine's port-name table.

use crate::engine::services::Services;
use std::io::Read;
use std::path::Path;

/// Bytes of a services file read, at most (the full IANA list is about 1 MB).
const MAX_FILE_BYTES: u64 = 8 << 20;

/// The built-in table extended by `/etc/services`; the built-in table alone when that file
/// cannot be read.
pub fn load() -> Services {
    load_from(Path::new("/etc/services"))
}

/// The built-in table extended by a services file; the built-in table alone when it cannot be
/// read. At most 8 MiB of it is read.
pub fn load_from(path: &Path) -> Services {
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut bytes));
    match read {
        Ok(_) => Services::from_bytes(&bytes),
        Err(_) => Services::builtin(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_falls_back_to_builtin() {
        let s = load_from(Path::new("/nonexistent/rsthound/services"));
        assert_eq!(s, Services::builtin());
        let _ = load();
    }
}
