//! `/etc/pxhub/pxhub.toml` as the Debian package ships it: every setting of
//! the table, commented out with its default and its help, but the data
//! folder, which the package sets to `/var/lib/pxhub`. The file in
//! `debian/` is this function's output; a test keeps the two in step.

use std::fmt::Write as _;

use super::Settings;

/// The data folder of a packaged hub.
pub const PACKAGE_DATA_DIR: &str = "/var/lib/pxhub";

/// The commented settings file of the package.
pub fn package_conffile() -> String {
    let mut out = String::from(
        "# pxhub's settings (TOML). Every setting is listed, commented out with its
# default; remove the `#` of a line to change it. A `PXHUB_…` variable (in
# /etc/pxhub/pxhub.env, read by the systemd units) beats this file, and a
# command-line flag beats both. After a change: systemctl restart pxhub
# (or pxhub-litestream when a replica is configured).
#
# The operator's commands read this file too when told so:
#   sudo -u pxhub PXHUB_CONFIG=/etc/pxhub/pxhub.toml pxhub station add …
#
# Keep this file readable by the pxhub group only (root:pxhub 0640): it may
# hold the S3 secret.
",
    );
    let mut in_storage = false;
    for row in Settings::docs() {
        let (key, storage) = row.toml_key();
        if storage && !in_storage {
            out.push_str("\n# Where media objects are stored: `local` (a folder) or `s3`.\n[storage]\n");
            in_storage = true;
        }
        out.push('\n');
        for line in wrap(&row.help.replace('`', ""), 76) {
            let _ = writeln!(out, "# {line}");
        }
        if key == "data_dir" {
            let _ = writeln!(out, "data_dir = {PACKAGE_DATA_DIR:?}");
            continue;
        }
        match row.toml_default() {
            Some(value) => {
                let _ = writeln!(out, "#{key} = {value}");
            }
            // No default, or one that depends on another setting.
            None => {
                if !row.default.is_empty() {
                    let _ = writeln!(out, "# (default: {})", row.default);
                }
                let _ = writeln!(out, "#{key} = \"\"");
            }
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Overrides;

    const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/debian/pxhub.toml");

    #[test]
    fn the_package_conffile_is_the_settings_table() {
        let made = package_conffile();
        if std::env::var_os("PXHUB_WRITE_CONFFILE").is_some() {
            std::fs::write(SHIPPED, &made).unwrap();
        }
        let shipped = std::fs::read_to_string(SHIPPED).unwrap();
        assert!(
            shipped == made,
            "debian/pxhub.toml differs from the settings table; rewrite it with\n  \
             PXHUB_WRITE_CONFFILE=1 cargo test --lib the_package_conffile_is_the_settings_table"
        );
        for row in Settings::docs() {
            let key = row.key.trim_start_matches("[storage] ");
            assert!(
                made.lines()
                    .any(|l| l.trim_start_matches('#').starts_with(&format!("{key} = "))),
                "{key} missing from the conffile"
            );
        }
    }

    #[test]
    fn the_package_conffile_parses_to_the_defaults_in_var_lib() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), package_conffile()).unwrap();
        let loaded = Settings::load(Some(file.path()), Overrides::default()).unwrap();
        assert_eq!(
            loaded,
            Settings {
                data_dir: PathBuf::from(PACKAGE_DATA_DIR),
                ..Settings::default()
            }
        );
        // Each commented default, uncommented, is a value the hub takes.
        let uncommented: String = package_conffile()
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(setting) if setting.contains(" = ") && !setting.ends_with(" = \"\"") => setting,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(file.path(), uncommented).unwrap();
        let all = Settings::load(Some(file.path()), Overrides::default()).unwrap();
        assert_eq!(all, loaded);
    }

    #[test]
    fn wrap_breaks_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("a", 5), ["a"]);
    }
}
