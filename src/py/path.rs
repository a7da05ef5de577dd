//! `os.path.abspath` of a path in the target root, whose working directory
//! is `/`.

/// `os.path.abspath(p)` with `/` as the working directory: `.`, empty
/// components and a trailing `/` dropped, `..` folded (never above `/`).
/// (Python keeps a leading `//`; no caller has met one.)
pub fn abspath(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Moved from `write_files`, which had its own copy.
    #[test]
    fn paths_are_made_absolute() {
        let abspath = |p| PathBuf::from(abspath(p));
        assert_eq!(abspath("etc/../tmp/./x"), PathBuf::from("/tmp/x"));
        assert_eq!(abspath("/a//b/"), PathBuf::from("/a/b"));
    }

    /// Moved from `users_groups`, which had its own copy (its
    /// `make_header` line is `py::header`'s test).
    #[test]
    fn sudoers_include_paths() {
        assert_eq!(abspath("/etc/sudoers.d/"), "/etc/sudoers.d");
        assert_eq!(abspath("/etc//x/../sudoers.d"), "/etc/sudoers.d");
        assert_eq!(abspath("sudoers.d"), "/sudoers.d");
    }
}
