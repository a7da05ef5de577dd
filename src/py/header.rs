//! `util.make_header`: the comment line cloud-init puts at the top of the
//! files it creates or adds to (hosts, sysconfig files, sudoers).

/// `util.make_header(base=...)`: `# Created by cloud-init v. <version> on
/// <RFC 2822 date>` (`base` with its first letter made upper case).
pub fn make_header(base: &str) -> String {
    let mut b = base.to_string();
    if let Some(first) = b.get(..1) {
        b.replace_range(..1, &first.to_uppercase());
    }
    format!(
        "# {b} by cloud-init v. {} on {}",
        crate::VERSION_STRING,
        chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moved from `users_groups`.
    #[test]
    fn sudoers_header() {
        assert!(make_header("added").starts_with("# Added by cloud-init v. "));
    }
}
