//! The config the command line and the Lambda runtime read: the core's sections
//! (`xacct_core::config`) and the AWS provider's (`xacct_aws::config`), each read by its
//! owner; this module only puts them together, and says which backend serves the run.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use xacct_aws::config::{AwsConfig, AwsSettings, Sections};
pub use xacct_core::config::file::{ConfigError, DEFAULT_FILE, ENV_VAR, Invalid, locate};
use xacct_core::config::file::{Document, read};
pub use xacct_core::config::{
    Config as CoreConfig, DEFAULT_COMPILE_TIMEOUT_SECS, DEFAULT_MAX_PLUGIN_MIB, PluginConfig,
    is_plugin_name,
};
pub use xacct_core::config::{accounts, file, limits};

/// A validated configuration: the core's part (what `Deref` gives) and AWS's.
#[derive(Debug, Clone)]
pub struct Config {
    pub core: CoreConfig,
    pub aws: AwsSettings,
    /// Which backend serves the run.
    pub backend: Backend,
}

/// Which backend serves the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The local backend at `local_root`: the default, and `--local-root`.
    Local,
    /// AWS, through the home identity of `[aws]`.
    Aws,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&read(path)?, path)
    }

    /// Parses config text; `path` is used for messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut document = Document::parse(text, path)?;
        let sections = Sections::take(&mut document)?;
        let mut core = CoreConfig::read(&mut document, &sections)?;
        let aws = sections.finish(&document, &mut core)?;
        let backend = if aws.aws.is_some() {
            Backend::Aws
        } else {
            Backend::Local
        };
        Ok(Config { core, aws, backend })
    }

    /// The config of `xacct run --local-root ROOT` where there is no config file (see
    /// [`CoreConfig::without_file`]).
    pub fn without_file(root: &Path) -> Config {
        Config {
            core: CoreConfig::without_file(root),
            aws: AwsSettings::default(),
            backend: Backend::Local,
        }
    }

    /// Runs on the local backend at `root`, whatever the file configures.
    pub fn use_local_root(&mut self, root: &Path) {
        self.core.local_root = root.to_owned();
        self.backend = Backend::Local;
    }

    /// `[aws]`, when AWS serves the run.
    pub fn aws(&self) -> Option<&AwsConfig> {
        match self.backend {
            Backend::Aws => self.aws.aws.as_ref(),
            Backend::Local => None,
        }
    }
}

impl Deref for Config {
    type Target = CoreConfig;

    fn deref(&self) -> &CoreConfig {
        &self.core
    }
}

impl DerefMut for Config {
    fn deref_mut(&mut self) -> &mut CoreConfig {
        &mut self.core
    }
}
