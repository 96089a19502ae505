//! `xacct new`: a plugin project that builds and passes its own test as created, in
//! Rust, Python or JavaScript — the source, a build script, a config with the plugin's
//! grant and two accounts of sample data, and a test that runs the plugin in this host.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use xacct_core::config::is_plugin_name;

pub use super::args::Language;
use super::args::NewArgs;
use super::error::UsageError;
use quote::Syntax;

mod quote;

/// What to create.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    pub name: String,
    pub language: Language,
    /// The project directory; it must not exist or be empty.
    pub dir: PathBuf,
    /// The `xacct-guest` crate a Rust project depends on.
    pub sdk: PathBuf,
    /// The host `test.sh` runs unless `XACCT` names another.
    pub xacct: PathBuf,
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "{0:?} is not a plugin name; fix: use 1 to 64 letters, digits, '-' or '_' (it names the .wasm file and the [plugin.NAME] section)"
    )]
    Name(String),
    #[error("{}: exists and is not empty; fix: choose another directory or name", .0.display())]
    Exists(PathBuf),
    #[error(
        "{}: the xacct-guest SDK is not there; fix: pass --sdk with the path of xacct's guest-sdk directory",
        .0.display()
    )]
    NoSdk(PathBuf),
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The xacct-guest SDK of the source tree this host was built from.
pub fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk")
}

const WIT: &str = include_str!("../../../wit/xacct.wit");
const WIT_IO: &str = include_str!("../../../wit/deps/io.wit");

/// `xacct new`: creates the project and says how to build and test it.
pub fn new_plugin(args: NewArgs) -> Result<ExitCode, UsageError> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let new = NewPlugin {
        language: args.lang,
        dir: dir.clone(),
        sdk: args.sdk.unwrap_or_else(default_sdk),
        xacct: std::env::current_exe().context("cannot tell where this xacct is")?,
        name: args.name,
    };
    create(&new)?;
    let shown = dir.display();
    println!("created {shown}: build with {shown}/build.sh, test with {shown}/test.sh");
    println!(
        "its grant, to copy into the operator's config, is [plugin.{}] in {shown}/xacct.toml",
        new.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates the project and returns the files written, relative to its directory.
pub fn create(new: &NewPlugin) -> Result<Vec<&'static str>, ScaffoldError> {
    if !is_plugin_name(&new.name) {
        return Err(ScaffoldError::Name(new.name.clone()));
    }
    if std::fs::read_dir(&new.dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ScaffoldError::Exists(new.dir.clone()));
    }
    // Cargo resolves a relative path from the manifest: written absolute, the project
    // builds wherever it is moved.
    let sdk = match new.language {
        Language::Rust => new
            .sdk
            .canonicalize()
            .ok()
            .filter(|sdk| sdk.join("Cargo.toml").is_file())
            .ok_or_else(|| ScaffoldError::NoSdk(new.sdk.clone()))?,
        Language::Python | Language::JavaScript => new.sdk.clone(),
    };
    let (language, source, build) = match new.language {
        Language::Rust => ("Rust", "src/lib.rs", "cargo, for wasm32-wasip2"),
        Language::Python => ("Python", "app.py", "componentize-py"),
        Language::JavaScript => ("JavaScript", "plugin.js", "componentize-js"),
    };
    let crate_name = new.name.replace('-', "_");
    let sdk = sdk.display().to_string();
    let xacct = new.xacct.display().to_string();
    let values = [
        ("name", new.name.as_str()),
        ("crate", crate_name.as_str()),
        ("sdk", sdk.as_str()),
        ("xacct", xacct.as_str()),
        ("language", language),
        ("source", source),
        ("build", build),
    ];
    let fill = |syntax: Syntax, template: &str| syntax.fill(template, &values);
    let mut files: Vec<(&str, String, bool)> = vec![
        (
            "xacct.toml",
            fill(
                Syntax::Toml,
                include_str!("../../templates/common/xacct.toml"),
            ),
            false,
        ),
        (
            "README.md",
            fill(
                Syntax::Text,
                include_str!("../../templates/common/README.md"),
            ),
            false,
        ),
        (
            "test.sh",
            fill(
                Syntax::Shell,
                include_str!("../../templates/common/test.sh"),
            ),
            true,
        ),
        (
            "grant.toml",
            include_str!("../../templates/common/grant.toml").into(),
            false,
        ),
        (
            "data/111111111111/example-bucket/hello.txt",
            "hello\n".into(),
            false,
        ),
        (
            "data/111111111111/example-bucket/notes/today.txt",
            "notes\n".into(),
            false,
        ),
        (
            "data/222222222222/example-bucket/hello.txt",
            "hello\n".into(),
            false,
        ),
    ];
    match new.language {
        Language::Rust => files.extend([
            (
                "Cargo.toml",
                fill(
                    Syntax::Toml,
                    include_str!("../../templates/rust/Cargo.toml"),
                ),
                false,
            ),
            (
                "src/lib.rs",
                fill(Syntax::Text, include_str!("../../templates/rust/lib.rs")),
                false,
            ),
            (
                "build.sh",
                fill(Syntax::Shell, include_str!("../../templates/rust/build.sh")),
                true,
            ),
            (
                ".gitignore",
                fill(Syntax::Text, include_str!("../../templates/rust/gitignore")),
                false,
            ),
        ]),
        Language::Python => files.extend([
            (
                "app.py",
                fill(Syntax::Text, include_str!("../../templates/python/app.py")),
                false,
            ),
            (
                "build.sh",
                fill(
                    Syntax::Shell,
                    include_str!("../../templates/python/build.sh"),
                ),
                true,
            ),
            (
                ".gitignore",
                fill(
                    Syntax::Text,
                    include_str!("../../templates/python/gitignore"),
                ),
                false,
            ),
        ]),
        Language::JavaScript => files.extend([
            (
                "plugin.js",
                fill(Syntax::Text, include_str!("../../templates/js/plugin.js")),
                false,
            ),
            (
                "package.json",
                fill(
                    Syntax::Json,
                    include_str!("../../templates/js/package.json"),
                ),
                false,
            ),
            (
                "build.sh",
                fill(Syntax::Shell, include_str!("../../templates/js/build.sh")),
                true,
            ),
            (
                ".gitignore",
                fill(Syntax::Text, include_str!("../../templates/js/gitignore")),
                false,
            ),
        ]),
    }
    // The other toolchains read the world from WIT files beside the source.
    if new.language != Language::Rust {
        files.extend([
            ("wit/xacct.wit", WIT.to_owned(), false),
            ("wit/deps/io.wit", WIT_IO.to_owned(), false),
        ]);
    }
    for (relative, text, executable) in &files {
        let path = new.dir.join(relative);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().unwrap_or(&new.dir))?;
            std::fs::write(&path, text)?;
            if *executable {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            }
            Ok(())
        };
        write().map_err(|source| ScaffoldError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(files.into_iter().map(|(relative, ..)| relative).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(dir: &Path, language: Language) -> NewPlugin {
        NewPlugin {
            name: "my-plugin".into(),
            language,
            dir: dir.join("my-plugin"),
            sdk: default_sdk(),
            xacct: "/usr/bin/xacct".into(),
        }
    }

    #[test]
    fn a_rust_project_depends_on_the_sdk_by_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let files = create(&new(dir.path(), Language::Rust)).unwrap();
        assert!(files.contains(&"src/lib.rs"));
        let manifest = std::fs::read_to_string(dir.path().join("my-plugin/Cargo.toml")).unwrap();
        let sdk = default_sdk().canonicalize().unwrap();
        assert!(
            manifest.contains(&format!("path = \"{}\"", sdk.display())),
            "{manifest}"
        );
        let build = std::fs::read_to_string(dir.path().join("my-plugin/build.sh")).unwrap();
        assert!(
            build.contains("release/my_plugin.wasm\" plugins/my-plugin.wasm"),
            "{build}"
        );
        let config = std::fs::read_to_string(dir.path().join("my-plugin/xacct.toml")).unwrap();
        crate::config::Config::parse(&config, Path::new("xacct.toml")).unwrap();
    }

    #[test]
    fn names_sdks_and_existing_directories_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad = new(dir.path(), Language::Python);
        bad.name = "../up".into();
        assert!(matches!(create(&bad), Err(ScaffoldError::Name(_))));
        let mut no_sdk = new(dir.path(), Language::Rust);
        no_sdk.sdk = dir.path().join("nowhere");
        assert!(matches!(create(&no_sdk), Err(ScaffoldError::NoSdk(_))));
        create(&new(dir.path(), Language::JavaScript)).unwrap();
        let again = create(&new(dir.path(), Language::JavaScript));
        assert!(matches!(again, Err(ScaffoldError::Exists(_))));
    }
}
